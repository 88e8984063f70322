//! The subcommands of `openbolt`, one module each.

pub mod chat;
pub mod check_page;
pub mod context;
pub mod parse;
pub mod sessions;
pub mod version;
