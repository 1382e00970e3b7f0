//! Exports a berth root module stamped with SDK version 99.0.0: what a plugin built against a
//! future, incompatible SDK looks like to this host. The host must refuse it, naming the file
//! and the versions, and go on loading the others.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RString;
use abi_stable::{
    declare_root_module_statics, export_root_module, prefix_type::PrefixTypeTrait, StableAbi,
};

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = FutureModuleRef)))]
#[sabi(missing_field(panic))]
pub struct FutureModule {
    #[sabi(last_prefix_field)]
    pub hello: extern "C" fn() -> RString,
}

impl RootModule for FutureModuleRef {
    declare_root_module_statics! {FutureModuleRef}
    const BASE_NAME: &'static str = "berth_connector";
    const NAME: &'static str = "berth connector plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("99.0.0");
}

extern "C" fn hello() -> RString {
    "from the future".into()
}

#[export_root_module]
pub fn root() -> FutureModuleRef {
    FutureModule { hello }.leak_into_prefix()
}
