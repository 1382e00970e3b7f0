//! `berth`: run, check and describe a deployment of processes that receive documents from
//! trading partners. Everything is in the library (`berth_host`); this is its entry point.

use std::process::ExitCode;

// Serving a request allocates many small strings (properties, headers); mimalloc serves them
// measurably faster than glibc's allocator under load. Plugins keep their own allocator:
// everything that crosses the ABI carries the functions to free it with (abi_stable).
// Built without transparent huge pages (`no_thp`): with them, each page mimalloc takes back
// from the kernel after a lull is a 2 MiB page to zero on its next touch; a small AS2 message
// took 0.21 such faults, its share of zeroing being more than its AES and SHA work together
// (perf: clear_page_erms). 4 KiB pages make that 1.95 small faults per message.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    berth_host::cli::main()
}
