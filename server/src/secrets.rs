//! Which files hold secrets, and which environment variables. One list of each for everything that
//! decides: a secret file's content never reaches the model (context building, reads, searches), nor the
//! session store (revert snapshots); the key variables never reach a command or an MCP server. Secret
//! *values* — wherever a command, a file or a tool shows them — are redacted by [`values`].

pub mod values;

pub use values::{REDACTED, redact, redact_event};

use std::path::Path;

/// The environment variables that hold the providers' keys OpenBolt uses: a command (its terminal) and
/// an MCP server (its process) never inherit them — an MCP server's configured `env` gives it what it
/// needs.
pub const KEY_VARIABLES: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "OPENBOLT_API_KEY",
    "OPENROUTER_API_KEY",
];

/// Whether a file may hold secrets, by its name: environment files, keys, certificates and keystores,
/// credential and token files of package managers.
pub fn is_secret(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    lower.starts_with(".env")
        || lower.starts_with("id_rsa")
        || lower.starts_with("id_dsa")
        || lower.starts_with("id_ed25519")
        || lower.starts_with("id_ecdsa")
        || lower.contains("credentials")
        || [
            ".pem",
            ".key",
            ".p12",
            ".pfx",
            ".keystore",
            ".jks",
            ".secret",
        ]
        .iter()
        .any(|extension| lower.ends_with(extension))
        || matches!(
            lower.as_str(),
            ".npmrc" | ".netrc" | ".pypirc" | "secrets.json" | "secrets.yaml" | "secrets.yml"
        )
}

#[cfg(test)]
mod tests {
    use super::is_secret;
    use std::path::Path;

    #[test]
    fn secret_files_are_known_by_name() {
        for secret in [
            ".env",
            ".env.local",
            "config/secrets.json",
            "secrets.yml",
            ".pypirc",
            ".npmrc",
            ".netrc",
            "cert.p12",
            "cert.pfx",
            "release.jks",
            "app.keystore",
            "server.pem",
            "server.key",
            "id_rsa",
            "id_ecdsa.pub",
            "id_ed25519",
            "aws-credentials",
            "credentials.json",
            "token.secret",
        ] {
            assert!(is_secret(Path::new(secret)), "{secret} is a secret");
        }
        for plain in [
            "index.html",
            "src/main.rs",
            "keys.ts",
            "environment.md",
            "README",
        ] {
            assert!(!is_secret(Path::new(plain)), "{plain} is no secret");
        }
    }
}
