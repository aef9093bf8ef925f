//! Where the files the CLI writes come from.

pub use reports::files::{check_writable, write_json};
