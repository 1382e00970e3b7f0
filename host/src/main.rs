//! `berth`: run, check and describe a deployment of processes that receive documents from
//! trading partners. Everything is in the library (`berth_host`); this is its entry point.

use std::process::ExitCode;

// Serving a request allocates many small strings (properties, headers); mimalloc serves them
// measurably faster than glibc's allocator under load. Plugins keep their own allocator:
// everything that crosses the ABI carries the functions to free it with (abi_stable).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    berth_host::cli::main()
}
