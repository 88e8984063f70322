//! OpenBolt's server: the language server, the headless chat, and the commands around them.

pub mod actions;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod engine;
pub mod lsp;
pub mod provider;
pub mod secrets;
pub mod store;
pub mod terminal;
pub mod types;

/// Installs rustls' crypto provider (ring) once per process; reqwest is built without one.
pub fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // An error means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
