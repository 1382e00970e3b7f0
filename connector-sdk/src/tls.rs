//! The TLS settings sections every connector and the host's shared web server read, so HTTPS is
//! spelled the same way everywhere: `{ certificate, private_key }` PEM files, or
//! `{ pkcs12, password }`, and for a port of its own `{ port, ... }` beside them.
//!
//! Deserialization is written by hand rather than derived: a `TlsPort` is the files plus a port in
//! one YAML map, and serde's `flatten` cannot refuse unknown fields. The visitor here reads both
//! shapes with one field list and refuses unknown fields the way the derive does (the error comes
//! from the key itself), so users get the same `file:line field` pointers.

use std::borrow::Cow;
use std::path::Path;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::abi::{Problem, Tls};
use crate::certs::{role, CertificateUse, KeyCheck};
use crate::connector::OpenContext;
use crate::secret::Secret;
use crate::settings::problem;

/// A server certificate and its private key: two PEM files, or one PKCS#12 file. Paths are
/// relative to the deployment folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate file: the server certificate first, then its chain.
    pub certificate: Option<String>,
    /// PEM private key file.
    pub private_key: Option<String>,
    /// PKCS#12 (.p12, .pfx) file with the key and the certificate chain, instead of PEM files.
    pub pkcs12: Option<String>,
    /// Password of the PKCS#12 file.
    pub password: Option<Secret>,
}

/// An HTTPS port of its own, with its certificate and key (see [`TlsFiles`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPort {
    /// The HTTPS port.
    pub port: u16,
    pub files: TlsFiles,
}

impl TlsFiles {
    /// Problems with the combination of fields; `at` is the section's JSON pointer (`/tls`).
    pub fn check(&self, at: &str) -> Vec<Problem> {
        match (&self.certificate, &self.private_key, &self.pkcs12) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => Vec::new(),
            (_, _, Some(_)) => vec![problem(
                &format!("{at}/pkcs12"),
                "give either `pkcs12` or `certificate` and `private_key`, not both",
            )],
            (Some(_), None, None) => vec![problem(
                &format!("{at}/private_key"),
                "`certificate` needs its `private_key`",
            )],
            (None, Some(_), None) => vec![problem(
                &format!("{at}/certificate"),
                "`private_key` needs its `certificate`",
            )],
            (None, None, None) => vec![problem(
                at,
                "give `certificate` and `private_key` (PEM), or `pkcs12` and `password`",
            )],
        }
    }

    /// The files as the host needs them, resolved against the deployment folder.
    pub fn resolve(&self, context: &OpenContext) -> Result<Tls, String> {
        self.resolve_in(&context.deployment_dir)
    }

    /// The files resolved against `dir`. An incomplete combination (which [`TlsFiles::check`]
    /// refuses before anything opens) is an error rather than a guess.
    pub fn resolve_in(&self, dir: &Path) -> Result<Tls, String> {
        let path = |file: &str| dir.join(file).display().to_string().into();
        match (&self.certificate, &self.private_key, &self.pkcs12) {
            (None, None, Some(file)) => Ok(Tls::Pkcs12 {
                file: path(file),
                password: self.password.clone().unwrap_or_default(),
            }),
            (Some(certificate), Some(key), None) => Ok(Tls::Pem {
                certificate_file: path(certificate),
                private_key_file: path(key),
            }),
            _ => Err("tls needs `certificate` and `private_key`, or `pkcs12`".to_string()),
        }
    }
}

impl TlsFiles {
    /// These files as a [`CertificateUse`] of role `tls` (`at` is the section's JSON pointer):
    /// the host reads the certificate and checks the key the way it does to serve HTTPS.
    pub fn certificate_use(&self, dir: &Path, at: &str) -> Option<CertificateUse> {
        let (field, file) = match (&self.certificate, &self.pkcs12) {
            (_, Some(file)) => ("pkcs12", file),
            (Some(file), None) => ("certificate", file),
            (None, None) => return None,
        };
        let pointer = format!("{at}/{field}");
        let key_file = self.private_key.as_ref().unwrap_or(file);
        Some(match self.resolve_in(dir) {
            Ok(tls) => CertificateUse {
                tls: abi_stable::std_types::ROption::RSome(tls),
                ..CertificateUse::read(role::TLS, file, &pointer, Vec::new(), KeyCheck::BY_HOST)
                    .with_key_file(key_file)
            },
            Err(e) => CertificateUse::unreadable(role::TLS, file, &pointer, e),
        })
    }
}

impl TlsPort {
    /// Problems with the port and the files; `at` is the section's JSON pointer, and
    /// `plain_port` the HTTP port beside it, which the HTTPS port must differ from.
    pub fn check(&self, at: &str, plain_port: u16) -> Vec<Problem> {
        let mut problems = self.files.check(at);
        if self.port == 0 {
            problems.push(problem(&format!("{at}/port"), "a port from 1 to 65535"));
        } else if self.port == plain_port {
            problems.push(problem(
                &format!("{at}/port"),
                "the HTTPS port must differ from the HTTP port",
            ));
        }
        problems
    }
}

/// The fields of each shape, in the order errors list them.
const FILES_FIELDS: &[&str] = &["certificate", "private_key", "pkcs12", "password"];
const PORT_FIELDS: &[&str] = &["port", "certificate", "private_key", "pkcs12", "password"];

enum Field {
    Port,
    Certificate,
    PrivateKey,
    Pkcs12,
    Password,
}

/// Reads one key of a TLS section, refusing those not in `fields` while the key is read (as the
/// derive does), so that the error's path ends at the unknown field.
struct KeySeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        let key = match name {
            "port" if self.0.contains(&"port") => Field::Port,
            "certificate" => Field::Certificate,
            "private_key" => Field::PrivateKey,
            "pkcs12" => Field::Pkcs12,
            "password" => Field::Password,
            _ => return Err(E::unknown_field(name, self.0)),
        };
        Ok(key)
    }
}

/// Reads a TLS section of either shape: `fields` says which.
struct SectionVisitor(&'static [&'static str]);

impl<'de> Visitor<'de> for SectionVisitor {
    type Value = (Option<u16>, TlsFiles);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TLS section")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut port = None;
        let mut files = TlsFiles::default();
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            match key {
                Field::Port => port = Some(map.next_value()?),
                Field::Certificate => files.certificate = map.next_value()?,
                Field::PrivateKey => files.private_key = map.next_value()?,
                Field::Pkcs12 => files.pkcs12 = map.next_value()?,
                Field::Password => files.password = map.next_value()?,
            }
        }
        Ok((port, files))
    }
}

impl<'de> Deserialize<'de> for TlsFiles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let visitor = SectionVisitor(FILES_FIELDS);
        let (_, files) = deserializer.deserialize_struct("TlsFiles", FILES_FIELDS, visitor)?;
        Ok(files)
    }
}

impl<'de> Deserialize<'de> for TlsPort {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let visitor = SectionVisitor(PORT_FIELDS);
        let (port, files) = deserializer.deserialize_struct("TlsPort", PORT_FIELDS, visitor)?;
        let port = port.ok_or_else(|| de::Error::missing_field("port"))?;
        Ok(Self { port, files })
    }
}

/// The files' schema with a required `port` added: the same descriptions, one definition.
impl JsonSchema for TlsPort {
    fn schema_name() -> Cow<'static, str> {
        "TlsPort".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = TlsFiles::json_schema(generator);
        let mut port = generator.subschema_for::<u16>().to_value();
        port["description"] = "The HTTPS port.".into();
        let object = schema.ensure_object();
        if let Some(properties) = object.get_mut("properties").and_then(|p| p.as_object_mut()) {
            properties.insert("port".into(), port);
        }
        match object.get_mut("required").and_then(|r| r.as_array_mut()) {
            Some(required) => required.insert(0, "port".into()),
            None => {
                object.insert("required".into(), serde_json::json!(["port"]));
            }
        }
        schema.insert(
            "description".into(),
            "An HTTPS port with its certificate and key: PEM files, or one PKCS#12 file \
             (relative to the deployment folder)."
                .into(),
        );
        schema
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
