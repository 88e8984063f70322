//! What a sandboxed command may not read: the user's credentials. Landlock only grants — a rule allows
//! access beneath a directory, and nothing takes a path back out of it — so reading is granted by
//! subtraction ([`readable_beneath`]): beneath every entry of `/` except the ones that hold a denied path;
//! into those, beneath every entry but the denied ones; and so on down. Only `ReadFile` is restricted:
//! directories stay listable (a command sees that `~/.ssh/id_ed25519` exists, not what it holds), and
//! programs run wherever they are.
//!
//! Limits, documented for the user:
//! - An entry created after the command started (a new `~/.foo`, beside a denied one) is not readable by
//!   that command: no rule covers it. Entries of directories that hold no denied path are not affected.
//! - A denied path beneath a writable one (the workspace opened at `$HOME`, a `sandboxWritable` path)
//!   stays unreadable, but the command may move or overwrite it — moved into a readable place, it can be
//!   read. Keep credentials out of the workspace.
//! - A writable path beneath a denied one (the workspace inside `~/.config/gh`, say) is readable: the
//!   user chose it.

use rustix::fs::{CWD, Dir, FileType, Mode, OFlags, openat};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where credentials live beneath `$HOME`, denied by default: keys, cloud and cluster credentials,
/// registry and git tokens, password stores and keyrings, browser profiles (cookies, saved passwords),
/// and shell and REPL histories (commands typed with secrets in them).
pub const CREDENTIALS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker/config.json",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".config/gh",
    ".config/hub",
    ".password-store",
    ".local/share/keyrings",
    ".config/op",
    ".vault-token",
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".pgpass",
    ".my.cnf",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".gem/credentials",
    ".terraform.d/credentials.tfrc.json",
    ".config/rclone",
    ".config/containers/auth.json",
    ".config/composer/auth.json",
    ".config/github-copilot",
    // Editors' user settings may hold OpenBolt's own `apiKey`.
    ".config/Code/User/settings.json",
    ".config/Code - OSS/User/settings.json",
    ".config/VSCodium/User/settings.json",
    ".local/share/code-server/User/settings.json",
    ".s3cfg",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".thunderbird",
    ".bash_history",
    ".zsh_history",
    ".histfile",
    ".sh_history",
    ".local/share/fish/fish_history",
    ".python_history",
    ".node_repl_history",
    ".psql_history",
    ".mysql_history",
    ".sqlite_history",
    ".viminfo",
];

/// The paths commands may not read by default: [`CREDENTIALS`] beneath `home`, and OpenBolt's own
/// configuration (`config_dir`, whose settings may hold a key) and data (`data_dir`: sessions hold other
/// projects' code and commands' output).
pub fn default_denied(
    home: Option<&Path>,
    config_dir: Option<&Path>,
    data_dir: &Path,
) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = home
        .into_iter()
        .flat_map(|home| CREDENTIALS.iter().map(move |path| home.join(path)))
        .collect();
    paths.extend(config_dir.map(|dir| dir.join("openbolt")));
    paths.push(data_dir.to_path_buf());
    paths
}

/// Opens (`O_PATH`) what to grant `ReadFile` on so that everything beneath `root` is readable but
/// `denied` (real, absolute paths): `root` itself when it holds no denied path; else, entry by entry,
/// each entry that holds none, and the same again inside each that does. Symbolic links are skipped —
/// what they point to is readable where it really is. An unreadable directory grants nothing beneath it.
/// Entries are opened relative to their directory: a few system calls per rule, no path walks.
pub fn readable_beneath(root: &Path, denied: &[PathBuf], granted: &mut Vec<OwnedFd>) {
    visit(CWD, root.as_os_str().as_bytes(), root, denied, granted);
}

/// The one decision, for `path` (`name` in the directory `dir`): denied — nothing; holding no denied
/// path — granted whole; holding one — each of its entries visited. Nothing is followed: an entry that
/// became a link since the listing (or whose type the file system did not say) grants the link, never
/// what it leads to.
fn visit(
    dir: BorrowedFd<'_>,
    name: &[u8],
    path: &Path,
    denied: &[PathBuf],
    granted: &mut Vec<OwnedFd>,
) {
    if denied.iter().any(|denied| denied == path) {
        return;
    }
    if !denied.iter().any(|denied| denied.starts_with(path)) {
        let flags = OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        granted.extend(openat(dir, name, flags, Mode::empty()).ok());
        return;
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let Ok(opened) = openat(dir, name, flags, Mode::empty()) else {
        return;
    };
    let Ok(listing) = Dir::read_from(&opened) else {
        return;
    };
    let names: Vec<std::ffi::CString> = listing
        .flatten()
        .filter(|entry| !matches!(entry.file_name().to_bytes(), b"." | b".."))
        .filter(|entry| entry.file_type() != FileType::Symlink)
        .map(|entry| entry.file_name().to_owned())
        .collect();
    for name in names {
        let entry = path.join(std::ffi::OsStr::from_bytes(name.as_bytes()));
        visit(opened.as_fd(), name.as_bytes(), &entry, denied, granted);
    }
}

/// Where `path` really is: resolved as far as it exists, the missing rest kept (a credential file written
/// later — `docker login`, `cargo login` — is denied too: its directory is walked, and a file created after
/// the walk is covered by no rule). `None`: the path is not absolute.
fn real(path: &Path) -> Option<PathBuf> {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return Some(
                missing
                    .iter()
                    .rev()
                    .fold(real, |path, name| path.join(name)),
            );
        }
        missing.push(existing.file_name()?);
        existing = existing.parent()?;
    }
}

/// The `ReadFile` rules of a command: everything but `deny` (as given; each resolved to where it really
/// is, as far as it exists), plus `allow` (paths allowed back) and the `writable` paths that lie beneath a
/// denied one. `None`: nothing is denied, reads need no rules.
pub fn read_rules(
    deny: &[PathBuf],
    allow: &[PathBuf],
    writable: &[PathBuf],
) -> Option<Vec<OwnedFd>> {
    let denied: Vec<PathBuf> = deny.iter().filter_map(|path| real(path)).collect();
    if denied.is_empty() {
        return None;
    }
    let mut granted = Vec::with_capacity(256);
    readable_beneath(Path::new("/"), &denied, &mut granted);
    let beneath_denied = writable
        .iter()
        .filter(|path| denied.iter().any(|denied| path.starts_with(denied)));
    for path in allow.iter().chain(beneath_denied) {
        // Chosen by the user: followed.
        granted.extend(openat(CWD, path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).ok());
    }
    Some(granted)
}

/// The denied path a failed command's output names, if any: `output` mentions it as written (`~/…` or
/// absolute).
pub fn named_in<'a>(output: &str, denied: &'a [PathBuf], home: Option<&Path>) -> Option<&'a Path> {
    denied.iter().map(PathBuf::as_path).find(|path| {
        let absolute = path.to_string_lossy();
        let tilde = home
            .and_then(|home| path.strip_prefix(home).ok())
            .map(|rest| format!("~/{}", rest.display()));
        output.contains(absolute.as_ref()) || tilde.is_some_and(|tilde| output.contains(&tilde))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("temp dir");
        for dir in [
            "home/.ssh",
            "home/.config/gh",
            "home/.config/nvim",
            "home/src",
            "usr/bin",
        ] {
            std::fs::create_dir_all(root.path().join(dir)).expect("dir");
        }
        for file in ["home/.netrc", "home/.bashrc", "home/.ssh/id_ed25519"] {
            std::fs::write(root.path().join(file), "x").expect("file");
        }
        std::os::unix::fs::symlink(root.path().join("home/.ssh"), root.path().join("home/keys"))
            .expect("link");
        root
    }

    /// Where each opened descriptor leads.
    fn paths(fds: &[OwnedFd]) -> Vec<PathBuf> {
        use std::os::fd::AsRawFd;
        let mut paths: Vec<PathBuf> = fds
            .iter()
            .map(|fd| std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("fd"))
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn reading_is_granted_around_the_denied_paths() {
        let root = tree();
        let root = std::fs::canonicalize(root.path()).expect("real");
        let denied = [
            root.join("home/.ssh"),
            root.join("home/.netrc"),
            root.join("home/.config/gh"),
        ];
        let mut granted = Vec::new();
        readable_beneath(&root, &denied, &mut granted);
        let expected: Vec<PathBuf> = ["home/.bashrc", "home/.config/nvim", "home/src", "usr"]
            .iter()
            .map(|path| root.join(path))
            .collect();
        // Not the denied ones, not their parents whole, not the link that leads into one.
        assert_eq!(paths(&granted), expected);
    }

    #[test]
    fn nothing_denied_needs_no_rules_and_a_denied_root_grants_nothing() {
        let root = tree();
        let root = std::fs::canonicalize(root.path()).expect("real");
        assert!(read_rules(&[], &[], &[]).is_none());
        // A path that does not exist yet is denied where it would be: its parent is walked, not granted.
        let rules = read_rules(&[root.join("home/.docker/config.json")], &[], &[]).expect("rules");
        let rules = paths(&rules);
        assert!(!rules.contains(&root.join("home")), "{rules:?}");
        assert!(rules.contains(&root.join("home/src")), "{rules:?}");
        let mut granted = Vec::new();
        readable_beneath(&root, std::slice::from_ref(&root), &mut granted);
        assert!(granted.is_empty());
    }

    #[test]
    fn allowed_back_and_writable_beneath_a_denied_path_are_readable() {
        let root = tree();
        let root = std::fs::canonicalize(root.path()).expect("real");
        let rules = read_rules(
            &[root.join("home/.config")],
            &[root.join("home/.netrc")],
            &[root.join("home/.config/nvim"), root.join("home/src")],
        )
        .expect("rules");
        let rules = paths(&rules);
        assert!(rules.contains(&root.join("home/.netrc")));
        assert!(rules.contains(&root.join("home/.config/nvim")));
        assert!(!rules.contains(&root.join("home/.config")));
        let src = root.join("home/src");
        assert_eq!(
            rules.iter().filter(|path| **path == src).count(),
            1,
            "granted by the walk, not twice"
        );
    }

    #[test]
    fn the_defaults_cover_the_keys_and_openbolt_itself() {
        let home = Path::new("/home/u");
        let paths = default_denied(
            Some(home),
            Some(Path::new("/home/u/.config")),
            Path::new("/home/u/.local/share/openbolt"),
        );
        for expected in [
            "/home/u/.ssh",
            "/home/u/.aws",
            "/home/u/.docker/config.json",
            "/home/u/.bash_history",
            "/home/u/.config/openbolt",
            "/home/u/.local/share/openbolt",
        ] {
            assert!(paths.contains(&PathBuf::from(expected)), "{expected}");
        }
    }

    #[test]
    fn a_denied_path_is_recognised_in_output() {
        let denied = [PathBuf::from("/home/u/.npmrc")];
        let home = Some(Path::new("/home/u"));
        assert!(named_in("EACCES: open '/home/u/.npmrc'", &denied, home).is_some());
        assert!(named_in("cat: ~/.npmrc: Permission denied", &denied, home).is_some());
        assert!(named_in("cat: x: Permission denied", &denied, home).is_none());
    }
}
