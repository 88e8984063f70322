//! The subcommands of `openbolt`, one module each.

pub mod parse;
