//! Exports a berth root module stamped with SDK version 0.1.0: what a plugin built against the
//! SDK before 0.2 (whose decision was three options, with empty strings for "none") looks like
//! to this host. The host must refuse it, naming the file and the versions, and go on loading
//! the others.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RString;
use abi_stable::{
    declare_root_module_statics, export_root_module, prefix_type::PrefixTypeTrait, StableAbi,
};

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = OldModuleRef)))]
#[sabi(missing_field(panic))]
pub struct OldModule {
    #[sabi(last_prefix_field)]
    pub hello: extern "C" fn() -> RString,
}

impl RootModule for OldModuleRef {
    declare_root_module_statics! {OldModuleRef}
    const BASE_NAME: &'static str = "berth_connector";
    const NAME: &'static str = "berth connector plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("0.1.0");
}

extern "C" fn hello() -> RString {
    "from the past".into()
}

#[export_root_module]
pub fn root() -> OldModuleRef {
    OldModule { hello }.leak_into_prefix()
}
