//! OpenBolt's server: the language server, the headless chat, and the commands around them.

pub mod cli;
