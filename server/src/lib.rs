//! OpenBolt's server: the language server, the headless chat, and the commands around them.

pub mod acp;
pub mod actions;
pub mod browser;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod engine;
pub mod lsp;
pub mod mcp;
pub mod options;
pub mod project;
pub mod provider;
pub mod sandbox;
pub mod secrets;
pub mod store;
pub mod terminal;
pub mod tokens;
pub mod types;
pub mod voice;

/// Runs blocking work (the file system, SQLite) without stalling the async threads: on a multi-thread
/// runtime the worker hands its other tasks on while this runs.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// Locks a mutex; a panic while it was held (poisoning) does not stop the others — every lock in the
/// server guards data that stays consistent at each step.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs rustls' crypto provider (ring) once per process; reqwest is built without one.
pub fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // An error means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The layers of ARCHITECTURE.md, checked: a module uses only the modules below it.
#[cfg(test)]
mod layers {
    /// What a front end may use: everything but the other front end.
    const FRONT_END: &[&str] = &[
        "types",
        "tokens",
        "project",
        "sandbox",
        "secrets",
        "config",
        "provider",
        "terminal",
        "actions",
        "engine",
        "store",
        "conversation",
        "mcp",
        "voice",
        "options",
        "browser",
    ];

    /// Each module and the modules it may use. `openbolt-parser` is below them all.
    const ALLOWED: &[(&str, &[&str])] = &[
        ("types", &[]),
        ("secrets", &["types"]),
        ("config", &[]),
        ("provider", &["types", "config"]),
        ("sandbox", &[]),
        ("terminal", &["types", "secrets", "sandbox"]),
        ("browser", &["types", "sandbox", "terminal"]),
        ("tokens", &[]),
        ("mcp", &["secrets", "tokens", "terminal"]),
        (
            "actions",
            &["types", "secrets", "tokens", "sandbox", "terminal", "mcp"],
        ),
        ("voice", &["types", "tokens", "sandbox", "mcp", "actions"]),
        ("project", &["secrets", "tokens", "actions"]),
        (
            "engine",
            &[
                "types", "secrets", "tokens", "provider", "actions", "project", "mcp", "voice",
            ],
        ),
        ("store", &["types", "secrets"]),
        (
            "conversation",
            &[
                "types", "secrets", "tokens", "sandbox", "config", "provider", "terminal",
                "actions", "project", "engine", "store", "mcp", "voice", "browser",
            ],
        ),
        (
            "options",
            &[
                "types",
                "secrets",
                "config",
                "provider",
                "sandbox",
                "actions",
                "engine",
                "project",
                "store",
                "mcp",
                "conversation",
                "browser",
            ],
        ),
        ("cli", FRONT_END),
        ("acp", FRONT_END),
        ("lsp", FRONT_END),
    ];

    /// Items of the crate root anyone may use.
    const ROOT_ITEMS: &[&str] = &["install_crypto_provider", "blocking", "lock"];

    /// The modules of ours that `source` names through `crate::`.
    fn used_modules(source: &str) -> Vec<String> {
        let mut used = Vec::new();
        let mut rest = source;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end].split(',').collect()
            } else {
                vec![rest]
            };
            for name in names {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|character| character.is_ascii_alphanumeric() || *character == '_')
                    .collect();
                if !name.is_empty() && !used.contains(&name) {
                    used.push(name);
                }
            }
        }
        used
    }

    /// What `module`'s `source` uses that its layer does not allow.
    fn violations(module: &str, source: &str) -> Vec<String> {
        let allowed = ALLOWED
            .iter()
            .find(|(name, _)| *name == module)
            .map(|(_, allowed)| *allowed)
            .unwrap_or_else(|| panic!("module {module} is not in the layers: add it"));
        used_modules(source)
            .into_iter()
            .filter(|used| {
                used != module
                    && !allowed.contains(&used.as_str())
                    && !ROOT_ITEMS.contains(&used.as_str())
            })
            .collect()
    }

    fn sources(path: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).expect("a source folder") {
                sources(&entry.expect("an entry").path(), out);
            }
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path.to_path_buf());
        }
    }

    #[test]
    fn no_module_uses_a_layer_above_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        for (module, _) in ALLOWED {
            let mut files = Vec::new();
            sources(&root.join(format!("{module}.rs")), &mut files);
            sources(&root.join(module), &mut files);
            assert!(!files.is_empty(), "no source for module {module}");
            for file in files {
                let source = std::fs::read_to_string(&file).expect("source");
                for used in violations(module, &source) {
                    found.push(format!("{} uses crate::{used}", file.display()));
                }
            }
        }
        // Every module of the crate has a layer.
        for entry in std::fs::read_dir(&root).expect("src") {
            let path = entry.expect("an entry").path();
            let name = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or_default()
                .to_owned();
            if !["lib", "main", "bin"].contains(&name.as_str()) {
                assert!(
                    ALLOWED.iter().any(|(module, _)| *module == name),
                    "module {name} is not in the layers"
                );
            }
        }
        assert!(found.is_empty(), "upward imports:\n{}", found.join("\n"));
    }

    #[test]
    fn an_upward_import_is_caught() {
        assert_eq!(
            violations("engine", "use crate::lsp::protocol::ChatParams;"),
            ["lsp"]
        );
        assert_eq!(
            violations("terminal", "use crate::{types::TerminalId, actions::Job};"),
            ["actions"]
        );
        assert_eq!(violations("cli", "use crate::lsp::backend;"), ["lsp"]);
        assert!(
            violations(
                "actions",
                "use crate::terminal::Terminals; crate::install_crypto_provider();"
            )
            .is_empty()
        );
    }
}
