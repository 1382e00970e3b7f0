//! Plugins log through this function, so their lines join the host's structured log with the
//! process they concern.

use berth_connector_sdk::abi::LogLevel;
use berth_connector_sdk::abi_stable::std_types::{ROption, RStr};

pub extern "C" fn host_log(level: LogLevel, process: ROption<RStr<'_>>, message: RStr<'_>) {
    let process = process.map_or("", |process| process.as_str());
    let message = message.as_str();
    match level {
        LogLevel::ERROR => tracing::error!(target: "berth::plugin", process, "{message}"),
        LogLevel::WARN => tracing::warn!(target: "berth::plugin", process, "{message}"),
        LogLevel::INFO => tracing::info!(target: "berth::plugin", process, "{message}"),
        _ => tracing::debug!(target: "berth::plugin", process, "{message}"),
    }
}
