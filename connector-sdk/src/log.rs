//! Logging through the host, so that a plugin's lines land in the host's structured log with the
//! process they concern.

use abi_stable::std_types::{ROption, RStr};

use crate::abi::{HostLogFn, LogLevel};

/// A handle on the host's log. Cheap to copy; keep one in your listener.
#[derive(Clone, Copy)]
pub struct Logger {
    sink: HostLogFn,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Logger")
    }
}

impl Logger {
    pub fn new(sink: HostLogFn) -> Self {
        Self { sink }
    }

    /// A logger that drops everything (for unit tests of a connector).
    pub fn discard() -> Self {
        extern "C" fn discard(_: LogLevel, _: ROption<RStr<'_>>, _: RStr<'_>) {}
        Self { sink: discard }
    }

    /// Log `message` about `operation` (a process name), or about the listener as a whole
    /// when `operation` is empty.
    pub fn log(&self, level: LogLevel, operation: &str, message: &str) {
        let operation = match operation {
            "" => ROption::RNone,
            name => ROption::RSome(name.into()),
        };
        (self.sink)(level, operation, message.into());
    }

    pub fn error(&self, operation: &str, message: &str) {
        self.log(LogLevel::ERROR, operation, message);
    }

    pub fn warn(&self, operation: &str, message: &str) {
        self.log(LogLevel::WARN, operation, message);
    }

    pub fn info(&self, operation: &str, message: &str) {
        self.log(LogLevel::INFO, operation, message);
    }

    pub fn debug(&self, operation: &str, message: &str) {
        self.log(LogLevel::DEBUG, operation, message);
    }
}
