//! `openbolt version`: what this binary is, for people and for the editor extensions, which ask it
//! before they start the server (a protocol they do not speak gets a clear message, not odd errors).

use crate::types::PROTOCOL_VERSION;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct VersionArguments {
    /// One JSON object: `{"name", "version", "protocol"}`.
    #[arg(long)]
    pub json: bool,
}

/// What `openbolt version --json` prints.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Version {
    pub name: &'static str,
    /// The package version (`0.1.0`).
    pub version: &'static str,
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
}

pub const THIS: Version = Version {
    name: "openbolt",
    version: env!("CARGO_PKG_VERSION"),
    protocol: PROTOCOL_VERSION,
};

pub fn run(arguments: &VersionArguments) -> anyhow::Result<()> {
    let line = if arguments.json {
        serde_json::to_string(&THIS)?
    } else {
        format!(
            "{} {} (protocol {})",
            THIS.name, THIS.version, THIS.protocol
        )
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}
