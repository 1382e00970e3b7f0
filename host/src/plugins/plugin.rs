//! A loaded plugin and safe calls into it.

use std::path::PathBuf;

use berth_connector_sdk::abi::{OpenSpec, OperationSpec, Problem};
use berth_connector_sdk::abi_stable::std_types::{RResult, RString};
use berth_connector_sdk::certs::{CertificateUse, Section};
use berth_connector_sdk::module::{Opened, PluginModuleRef};

/// A connector kind a plugin offers.
#[derive(Debug, Clone)]
pub struct Kind {
    pub name: String,
    pub description: String,
    pub needs_connection: bool,
    pub blocking: bool,
    pub connection_schema: serde_json::Value,
    pub operation_schema: serde_json::Value,
}

pub struct Plugin {
    pub file: PathBuf,
    pub name: String,
    pub version: String,
    pub kinds: Vec<Kind>,
    module: PluginModuleRef,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("file", &self.file)
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

impl Plugin {
    pub(super) fn from_module(file: PathBuf, module: PluginModuleRef) -> Result<Self, String> {
        let info = match (module.info())() {
            RResult::ROk(info) => info,
            RResult::RErr(e) => return Err(format!("the plugin failed to describe itself: {e}")),
        };
        let mut kinds = Vec::new();
        for kind in info.kinds.iter() {
            let schema = |text: &RString, what: &str| {
                serde_json::from_str(text).map_err(|e| {
                    format!(
                        "connector `{}` has an invalid {what} schema: {e}",
                        kind.kind
                    )
                })
            };
            kinds.push(Kind {
                name: kind.kind.to_string(),
                description: kind.description.to_string(),
                needs_connection: kind.needs_connection,
                blocking: kind.blocking,
                connection_schema: schema(&kind.connection_schema, "connection")?,
                operation_schema: schema(&kind.operation_schema, "operation")?,
            });
        }
        if kinds.is_empty() {
            return Err("the plugin offers no connector".to_string());
        }
        Ok(Self {
            file,
            name: info.name.into_string(),
            version: info.version.into_string(),
            kinds,
            module,
        })
    }

    pub fn check_connection(&self, kind: &str, settings: &serde_json::Value) -> Vec<Problem> {
        let json = settings.to_string();
        (self.module.check_connection())(kind.into(), json.as_str().into()).into_vec()
    }

    pub fn check_operation(&self, kind: &str, settings: &serde_json::Value) -> Vec<Problem> {
        let json = settings.to_string();
        (self.module.check_operation())(kind.into(), json.as_str().into()).into_vec()
    }

    pub fn claims(&self, kind: &str, settings: &serde_json::Value) -> Result<Vec<String>, String> {
        let json = settings.to_string();
        match (self.module.claims())(kind.into(), json.as_str().into()) {
            RResult::ROk(claims) => Ok(claims.into_iter().map(RString::into_string).collect()),
            RResult::RErr(e) => Err(e.into_string()),
        }
    }

    /// The certificates a connection's or an operation's settings use; none from a plugin built
    /// before the root module could report them.
    pub fn certificates(
        &self,
        kind: &str,
        section: Section,
        settings: &serde_json::Value,
        deployment_dir: &std::path::Path,
    ) -> Result<Vec<CertificateUse>, String> {
        let Some(report) = self.module.certificates() else {
            return Ok(Vec::new());
        };
        let json = settings.to_string();
        let dir = deployment_dir.display().to_string();
        match report(
            kind.into(),
            section,
            json.as_str().into(),
            dir.as_str().into(),
        ) {
            RResult::ROk(uses) => Ok(uses.into_vec()),
            RResult::RErr(e) => Err(e.into_string()),
        }
    }

    pub fn open(
        &self,
        kind: &str,
        connection_name: Option<&str>,
        connection: &serde_json::Value,
        operations: &[(String, serde_json::Value)],
        deployment_dir: &std::path::Path,
    ) -> Result<Opened, String> {
        let spec = OpenSpec {
            kind: kind.into(),
            connection_name: connection_name.map(Into::into).into(),
            connection: connection.to_string().into(),
            operations: operations
                .iter()
                .map(|(id, settings)| OperationSpec {
                    id: id.as_str().into(),
                    settings: settings.to_string().into(),
                })
                .collect(),
            deployment_dir: deployment_dir.display().to_string().into(),
            log: crate::plugin_log::host_log,
        };
        match (self.module.open())(spec) {
            RResult::ROk(opened) => Ok(opened),
            RResult::RErr(e) => Err(e.into_string()),
        }
    }
}
