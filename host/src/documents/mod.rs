//! `berth documents`: find received documents by process, state, date and tracked property;
//! show one with its history and the answer sent (retries run through `crate::intake`).

mod dates;
pub mod evidence;
mod view;

pub use dates::{format as format_date, parse as parse_date};
pub use view::{list, parse_state, show};
