//! The plugin side of the ABI: turns a plugin's [`Connector`] types into the root module's
//! `extern "C"` functions, and catches every panic before it reaches the boundary.
//!
//! abi_stable aborts the whole process when a panic unwinds through an `extern "C"` function or
//! a `sabi_trait` method. Plugin authors never write those functions: [`crate::export_plugin!`]
//! routes every call through here, where `catch_unwind` turns a panic into an error for that one
//! call, so no author can forget it.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use abi_stable::nonexhaustive_enum::NonExhaustive;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, RResult, RSlice, RStr, RString, RVec};

use crate::exchange::ExchangedCertificate;

use crate::abi::{KindInfo, OpenSpec, Outcome, PluginInfo, Problem, Request, Response};
use crate::certs::{CertificateUse, Section};
use crate::connector::{Connector, Decision, Listener, OpenContext};
use crate::log::Logger;
use crate::module::{
    FfiDecision, FfiDecision_NE, FfiListener, FfiListener_TO, FfiPending, FfiPending_TO, Opened,
    PluginModule, PluginModuleRef,
};
use crate::settings;

/// Run `f`, turning a panic into an error message.
pub fn guard<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, RString> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        RString::from(format!(
            "plugin panicked in {what}: {}",
            panic_text(&*payload)
        ))
    })
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// The type-erased functions of one connector kind.
pub struct KindVTable {
    kind: &'static str,
    info: fn() -> KindInfo,
    check_connection: Check,
    check_operation: Check,
    claims: fn(&str) -> Result<Vec<String>, String>,
    open: fn(OpenSpec) -> Result<Opened, String>,
    certificates: fn(Section, &str, &std::path::Path) -> Result<Vec<CertificateUse>, String>,
}

impl KindVTable {
    pub const fn of<C: Connector>() -> Self {
        Self {
            kind: C::KIND,
            info: info_of::<C>,
            check_connection: check_connection_of::<C>,
            check_operation: check_operation_of::<C>,
            claims: claims_of::<C>,
            open: open_of::<C>,
            certificates: certificates_of::<C>,
        }
    }
}

fn info_of<C: Connector>() -> KindInfo {
    KindInfo {
        kind: C::KIND.into(),
        description: C::DESCRIPTION.into(),
        needs_connection: C::NEEDS_CONNECTION,
        blocking: C::BLOCKING,
        connection_schema: settings::schema_json::<C::Connection>().into(),
        operation_schema: settings::schema_json::<C::Operation>().into(),
    }
}

fn check_connection_of<C: Connector>(json: &str) -> Vec<Problem> {
    match settings::parse::<C::Connection>(json) {
        Ok(connection) => C::check_connection(&connection),
        Err(problem) => vec![problem],
    }
}

fn check_operation_of<C: Connector>(json: &str) -> Vec<Problem> {
    match settings::parse::<C::Operation>(json) {
        Ok(operation) => C::check_operation(&operation),
        Err(problem) => vec![problem],
    }
}

fn claims_of<C: Connector>(json: &str) -> Result<Vec<String>, String> {
    let operation = settings::parse::<C::Operation>(json).map_err(|p| p.message.into_string())?;
    Ok(C::claims(&operation))
}

fn certificates_of<C: Connector>(
    section: Section,
    json: &str,
    dir: &std::path::Path,
) -> Result<Vec<CertificateUse>, String> {
    let bad = |p: Problem| format!("settings at `{}`: {}", p.pointer, p.message);
    match section {
        Section::CONNECTION => {
            let connection = settings::parse::<C::Connection>(json).map_err(bad)?;
            Ok(C::connection_certificates(dir, &connection))
        }
        Section::OPERATION => {
            let operation = settings::parse::<C::Operation>(json).map_err(bad)?;
            Ok(C::operation_certificates(dir, &operation))
        }
        Section(other) => Err(format!("unknown settings section {other}")),
    }
}

fn open_of<C: Connector>(spec: OpenSpec) -> Result<Opened, String> {
    let connection = settings::parse::<C::Connection>(&spec.connection)
        .map_err(|p| format!("connection settings at `{}`: {}", p.pointer, p.message))?;
    let mut operations = Vec::with_capacity(spec.operations.len());
    for op in spec.operations.iter() {
        let parsed = settings::parse::<C::Operation>(&op.settings)
            .map_err(|p| format!("operation of `{}` at `{}`: {}", op.id, p.pointer, p.message))?;
        operations.push((op.id.to_string(), parsed));
    }
    let context = OpenContext {
        connection_name: spec.connection_name.into_option().map(RString::into_string),
        deployment_dir: spec.deployment_dir.as_str().into(),
        log: Logger::new(spec.log),
    };
    let (endpoints, listener) = C::open(context, connection, operations)?;
    let adapter = ListenerAdapter {
        inner: Arc::new(listener),
    };
    Ok(Opened {
        endpoints: endpoints.into(),
        listener: FfiListener_TO::from_value(adapter, TD_Opaque),
    })
}

struct ListenerAdapter<L> {
    inner: Arc<L>,
}

impl<L: Listener> FfiListener for ListenerAdapter<L> {
    fn handle(&self, request: &Request<'_>) -> RResult<FfiDecision_NE, RString> {
        let decision = match guard("handle", || self.inner.handle(request)) {
            Ok(decision) => decision,
            Err(message) => return RErr(message),
        };
        let decision = match decision {
            Decision::Respond(response) => FfiDecision::Respond(response),
            Decision::Submit {
                submission,
                pending,
            } => {
                let pending = PendingAdapter {
                    listener: Arc::clone(&self.inner),
                    pending: Some(pending),
                };
                FfiDecision::Submit {
                    submission,
                    pending: FfiPending_TO::from_value(pending, TD_Opaque),
                }
            }
        };
        ROk(NonExhaustive::new(decision))
    }

    fn exchanged_certificates(
        &self,
        certificates: RSlice<'_, ExchangedCertificate>,
    ) -> RResult<(), RString> {
        guard("exchanged_certificates", || {
            self.inner.exchanged_certificates(certificates.as_slice())
        })
        .into()
    }
}

struct PendingAdapter<L: Listener> {
    listener: Arc<L>,
    pending: Option<L::Pending>,
}

impl<L: Listener> FfiPending for PendingAdapter<L> {
    fn complete(&mut self, outcome: &Outcome) -> RResult<Response, RString> {
        let Some(pending) = self.pending.take() else {
            return RErr("complete called twice".into());
        };
        guard("complete", || self.listener.complete(pending, outcome)).into()
    }
}

static KINDS: OnceLock<(&'static str, &'static str, &'static [KindVTable])> = OnceLock::new();

fn kinds() -> &'static [KindVTable] {
    KINDS.get().map(|k| k.2).unwrap_or(&[])
}

fn find(kind: RStr<'_>) -> Option<&'static KindVTable> {
    kinds().iter().find(|k| k.kind == kind.as_str())
}

fn unknown_kind(kind: RStr<'_>) -> String {
    let known: Vec<_> = kinds().iter().map(|k| k.kind).collect();
    format!(
        "this plugin has no connector `{kind}` (it offers: {})",
        known.join(", ")
    )
}

extern "C" fn ffi_info() -> RResult<PluginInfo, RString> {
    guard("info", || {
        let (name, version, kinds) = KINDS.get().copied().unwrap_or(("", "", &[]));
        PluginInfo {
            name: name.into(),
            version: version.into(),
            kinds: kinds.iter().map(|k| (k.info)()).collect(),
        }
    })
    .into()
}

/// One of a kind's two settings checks.
type Check = fn(&str) -> Vec<Problem>;

fn check_with(
    what: &str,
    kind: RStr<'_>,
    settings: RStr<'_>,
    pick: fn(&KindVTable) -> Check,
) -> RVec<Problem> {
    let result = guard(what, || match find(kind) {
        Some(vtable) => pick(vtable)(settings.as_str()),
        None => vec![settings::problem("", unknown_kind(kind))],
    });
    match result {
        Ok(problems) => problems.into(),
        Err(message) => vec![settings::problem("", message.into_string())].into(),
    }
}

extern "C" fn ffi_check_connection(kind: RStr<'_>, settings: RStr<'_>) -> RVec<Problem> {
    check_with("check_connection", kind, settings, |v| v.check_connection)
}

extern "C" fn ffi_check_operation(kind: RStr<'_>, settings: RStr<'_>) -> RVec<Problem> {
    check_with("check_operation", kind, settings, |v| v.check_operation)
}

extern "C" fn ffi_claims(kind: RStr<'_>, settings: RStr<'_>) -> RResult<RVec<RString>, RString> {
    let result = guard("claims", || match find(kind) {
        Some(vtable) => (vtable.claims)(settings.as_str()),
        None => Err(unknown_kind(kind)),
    });
    match result {
        Ok(Ok(claims)) => ROk(claims.into_iter().map(RString::from).collect()),
        Ok(Err(message)) => RErr(message.into()),
        Err(message) => RErr(message),
    }
}

extern "C" fn ffi_open(spec: OpenSpec) -> RResult<Opened, RString> {
    let kind = spec.kind.clone();
    let result = guard("open", move || match find(kind.as_rstr()) {
        Some(vtable) => (vtable.open)(spec),
        None => Err(unknown_kind(kind.as_rstr())),
    });
    match result {
        Ok(Ok(opened)) => ROk(opened),
        Ok(Err(message)) => RErr(message.into()),
        Err(message) => RErr(message),
    }
}

extern "C" fn ffi_certificates(
    kind: RStr<'_>,
    section: Section,
    settings: RStr<'_>,
    deployment_dir: RStr<'_>,
) -> RResult<RVec<CertificateUse>, RString> {
    let dir = std::path::Path::new(deployment_dir.as_str());
    let result = guard("certificates", || match find(kind) {
        Some(vtable) => (vtable.certificates)(section, settings.as_str(), dir),
        None => Err(unknown_kind(kind)),
    });
    match result {
        Ok(Ok(uses)) => ROk(uses.into()),
        Ok(Err(message)) => RErr(message.into()),
        Err(message) => RErr(message),
    }
}

/// Build the root module for a plugin. Called by [`crate::export_plugin!`].
pub fn root_module(
    name: &'static str,
    version: &'static str,
    kinds: &'static [KindVTable],
) -> PluginModuleRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    // The first registration wins: the root module is built once per loaded library.
    let _ = KINDS.set((name, version, kinds));
    PluginModule {
        info: ffi_info,
        check_connection: ffi_check_connection,
        check_operation: ffi_check_operation,
        claims: ffi_claims,
        open: ffi_open,
        certificates: ffi_certificates,
    }
    .leak_into_prefix()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{Document, Submission};
    use crate::module::FfiDecision;
    use crate::NoSettings;
    use abi_stable::std_types::ROption;

    struct Split;

    /// Answers `/now` at once and submits everything else, with the SDK's defaults.
    impl Listener for Split {
        type Pending = ();

        fn handle(&self, request: &Request<'_>) -> Decision<()> {
            match request.path.as_str() {
                "/now" => Decision::Respond(Response::empty(204)),
                _ => Decision::submit(Submission::new("p", Document::from_request_body(vec![]))),
            }
        }
    }

    struct Defaults;

    impl Connector for Defaults {
        const KIND: &'static str = "defaults";
        const DESCRIPTION: &'static str = "";
        type Connection = NoSettings;
        type Operation = NoSettings;
        type Listener = Split;

        fn open(
            _: OpenContext,
            _: NoSettings,
            _: Vec<(String, NoSettings)>,
        ) -> Result<(Vec<crate::abi::Endpoint>, Split), String> {
            Ok((Vec::new(), Split))
        }
    }

    fn decide(path: &str) -> FfiDecision {
        let request = Request {
            method: "POST".into(),
            path: path.into(),
            query: ROption::RNone,
            headers: (&[][..]).into(),
            body: (&[][..]).into(),
            body_file: ROption::RNone,
            body_offset: 0,
            body_len: 0,
            payload_file: ROption::RNone,
            remote_addr: "127.0.0.1:1".into(),
            client_certificate: ROption::RNone,
            secure: false,
        };
        let adapter = ListenerAdapter {
            inner: Arc::new(Split),
        };
        let decision = adapter.handle(&request).into_result().unwrap();
        match decision.into_enum() {
            Ok(decision) => decision,
            Err(_) => panic!("a decision this SDK does not know"),
        }
    }

    #[test]
    fn decisions_cross_as_one_enum_and_complete_defaults() {
        assert!(matches!(decide("/now"), FfiDecision::Respond(r) if r.status == 204));
        let FfiDecision::Submit {
            submission,
            mut pending,
        } = decide("/doc")
        else {
            panic!("a submission expected");
        };
        assert_eq!(submission.operation.as_str(), "p");
        let outcome = Outcome {
            kind: crate::abi::OutcomeKind::ACCEPTED,
            document_id: "d".into(),
            returned: ROption::RNone,
            stored_answer: ROption::RNone,
            error: ROption::RNone,
        };
        let answer = pending.complete(&outcome).into_result().unwrap();
        assert_eq!(answer.status, 200);
        assert!(pending.complete(&outcome).is_err(), "complete runs once");
    }

    #[test]
    fn certificates_default_to_none_and_bad_settings_are_errors() {
        let dir = std::path::Path::new("/d");
        assert!(certificates_of::<Defaults>(Section::OPERATION, "{}", dir)
            .unwrap()
            .is_empty());
        assert!(certificates_of::<Defaults>(Section::CONNECTION, "{}", dir)
            .unwrap()
            .is_empty());
        assert!(certificates_of::<Defaults>(Section(9), "{}", dir).is_err());
        assert!(certificates_of::<Defaults>(Section::OPERATION, "[", dir).is_err());
    }

    #[test]
    fn claims_default_to_every_request() {
        assert_eq!(claims_of::<Defaults>("{}").unwrap(), vec!["*".to_string()]);
    }
}
