//! The root module every plugin exports, and the objects it hands out.

use abi_stable::library::RootModule;
use abi_stable::sabi_trait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, RResult, RSlice, RStr, RString, RVec};
use abi_stable::{declare_root_module_statics, package_version_strings, StableAbi};

use crate::abi::{Endpoint, OpenSpec, Outcome, PluginInfo, Problem, Request, Response, Submission};
use crate::certs::{CertificateUse, Section};
use crate::exchange::ExchangedCertificate;

/// A listener opened by a plugin: the host calls it from several threads at once.
///
/// Implemented by the SDK's glue (`export_plugin!`), which catches panics; plugin authors
/// implement [`crate::Listener`] instead.
#[sabi_trait]
pub trait FfiListener: Send + Sync {
    /// Decide what to do with a request: answer now, or submit a document first.
    fn handle(&self, request: &Request<'_>) -> RResult<FfiDecision_NE, RString>;

    /// Every certificate partners exchanged that the store holds, for this listener to pick
    /// its own from: called after open and whenever the stored set changes. The default
    /// ignores them. An error (a caught panic) is the host's to log.
    fn exchanged_certificates(
        &self,
        _certificates: RSlice<'_, ExchangedCertificate>,
    ) -> RResult<(), RString> {
        RResult::ROk(())
    }
}

/// The part of a request a connector keeps while its document is processed, to answer once the
/// outcome is known.
#[sabi_trait]
pub trait FfiPending: Send {
    /// Build the answer from the document's outcome. Called once.
    fn complete(&mut self, outcome: &Outcome) -> RResult<Response, RString>;
}

/// An owned listener object as the host holds it.
pub type ListenerBox = FfiListener_TO<'static, RBox<()>>;
/// An owned pending-answer object as the host holds it.
pub type PendingBox = FfiPending_TO<'static, RBox<()>>;

/// A connector's decision about one request: answer now, or submit a document and answer once
/// its fate is known.
///
/// Non-exhaustive across the ABI (it crosses as [`FfiDecision_NE`]): a later SDK may add a way
/// to decide, and a plugin built against it still loads here as long as it does not use it; a
/// decision this host does not know fails that one request.
#[repr(u8)]
#[derive(StableAbi)]
#[sabi(kind(WithNonExhaustive(size = [usize; 40], traits(Sync = false))))]
pub enum FfiDecision {
    /// Answer now; nothing is submitted.
    Respond(Response),
    /// Submit a document; `pending` answers once its outcome is known.
    Submit {
        submission: Submission,
        pending: PendingBox,
    },
}

/// What `open` gives back: where to listen and the listener to call.
#[repr(C)]
#[derive(StableAbi)]
pub struct Opened {
    pub endpoints: RVec<Endpoint>,
    pub listener: ListenerBox,
}

/// The root module of a connector plugin.
///
/// New functions are only ever appended after the last prefix field, so that a host can load a
/// plugin built against a newer SDK of the same major version. `#[sabi(last_prefix_field)]`
/// stays on `open` for good (abi_stable: moving it is a breaking change); fields after it are
/// read through accessors that give `None` when absent. abi_stable's layout check refuses a
/// plugin whose module has fewer fields than the host's, so a plugin built before a field was
/// added is refused at load with "rebuild it", never called through a missing pointer.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// Name, version and the connector kinds with their settings' JSON Schemas.
    pub info: extern "C" fn() -> RResult<PluginInfo, RString>,
    /// Check a connection's settings (JSON); every problem with its JSON pointer.
    pub check_connection: extern "C" fn(kind: RStr<'_>, settings: RStr<'_>) -> RVec<Problem>,
    /// Check an operation's settings (JSON); every problem with its JSON pointer.
    pub check_operation: extern "C" fn(kind: RStr<'_>, settings: RStr<'_>) -> RVec<Problem>,
    /// The routes an operation claims on its connection (e.g. `POST /orders`, or an AS2 partner
    /// pair); the host refuses two operations of one connection that claim the same route.
    pub claims:
        extern "C" fn(kind: RStr<'_>, settings: RStr<'_>) -> RResult<RVec<RString>, RString>,
    /// Open a connection with all its operations.
    #[sabi(last_prefix_field)]
    pub open: extern "C" fn(spec: OpenSpec) -> RResult<Opened, RString>,
    /// The certificates and keys a connection's or an operation's settings (JSON) use, read
    /// from files relative to `deployment_dir`. Added in SDK 0.2.0 after `open`.
    #[sabi(missing_field(option))]
    pub certificates: extern "C" fn(
        kind: RStr<'_>,
        section: Section,
        settings: RStr<'_>,
        deployment_dir: RStr<'_>,
    ) -> RResult<RVec<CertificateUse>, RString>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "berth_connector";
    const NAME: &'static str = "berth connector plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
