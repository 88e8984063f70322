//! The command sandbox: what the AI runs can change the project, not the rest of the machine.
//!
//! Every `shell` and `start` command is started as `openbolt sandbox-exec --writable DIR… -- $SHELL -c
//! COMMAND` (a hidden subcommand). That process sets `no_new_privs` (so `sudo` and other setuid programs
//! gain nothing), restricts itself with a Landlock ruleset, and then `exec`s the shell: the command and
//! everything it starts may read anywhere but write only beneath the workspace, the temp directory, the
//! package managers' caches ([`writable_paths`]), `/dev/null`, `/dev/tty` and the PTYs — plus what the user
//! adds (`sandboxWritable`). A denied write is the ordinary `EACCES`.
//!
//! Landlock is Linux's (5.13+). [`SandboxMode::Auto`] uses it where the kernel has it and otherwise runs
//! commands as before, after one warning; [`SandboxMode::Required`] refuses to run commands without it;
//! [`SandboxMode::Off`] never uses it.
//!
//! Reads are allowed everywhere but the user's credentials ([`reads`]: `~/.ssh`, `~/.aws`, tokens,
//! keyrings, browser profiles, histories, OpenBolt's own settings and sessions — plus `sandboxDenyRead`,
//! minus `sandboxAllowRead`). A denied read is `EACCES` too.
//!
//! Writes to the workspace's `.git` stay allowed (git works in the sandbox), but what git would later
//! run outside it — hooks, config entries that run programs — is put back after each command
//! ([`git::GitGuard`]).

pub mod git;
pub mod reads;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Whether commands run in the sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// In the sandbox where the kernel supports it; otherwise as before, after one warning.
    #[default]
    Auto,
    /// Only in the sandbox: without kernel support, commands are refused.
    Required,
    /// Never.
    Off,
}

impl std::str::FromStr for SandboxMode {
    type Err = String;

    fn from_str(text: &str) -> Result<SandboxMode, String> {
        match text {
            "auto" => Ok(SandboxMode::Auto),
            "required" => Ok(SandboxMode::Required),
            "off" => Ok(SandboxMode::Off),
            other => Err(format!(
                "unknown sandbox mode {other:?}: auto, required or off"
            )),
        }
    }
}

/// The environment variable that makes `sandbox-exec` behave as on a kernel without Landlock (tests).
pub const SIMULATE_UNSUPPORTED: &str = "OPENBOLT_SANDBOX_SIMULATE_UNSUPPORTED";

/// The exit code of `sandbox-exec` when the sandbox is required and cannot be had.
pub const UNAVAILABLE_EXIT: i32 = 125;

/// Whether this machine can sandbox commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// Landlock restricts writes here.
    Available,
    /// It does not (why, for the user).
    Unavailable(String),
}

/// The small helper binary installed beside `openbolt` (it starts faster than `openbolt sandbox-exec`).
pub const HELPER: &str = "openbolt-sandbox";

/// The program that starts sandboxed commands: [`HELPER`] beside `openbolt` when it is there, else
/// `openbolt` itself (its hidden `sandbox-exec` subcommand). `openbolt` is `current_exe`.
pub fn helper(openbolt: &Path) -> Helper {
    let beside = openbolt.with_file_name(HELPER);
    if beside.is_file() {
        Helper {
            program: beside,
            subcommand: false,
        }
    } else {
        Helper {
            program: openbolt.to_path_buf(),
            subcommand: true,
        }
    }
}

/// A program that runs commands in the sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Helper {
    pub program: PathBuf,
    /// It is `openbolt`, which needs the `sandbox-exec` subcommand.
    pub subcommand: bool,
}

impl Helper {
    fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        if self.subcommand {
            command.arg("sandbox-exec");
        }
        command
    }
}

/// How the terminals start a command in the sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox {
    /// What does the work.
    pub helper: Helper,
    /// Where writes are allowed besides the command's working directory (the workspace).
    pub writable: Vec<PathBuf>,
    /// Refuse to run when the kernel cannot restrict the command.
    pub required: bool,
    /// Outgoing TCP connections are allowed (`sandboxNetwork`; listening always is).
    pub network: bool,
    /// What commands may not read ([`reads::default_denied`] and `sandboxDenyRead`).
    pub deny_read: Vec<PathBuf>,
    /// What they may read all the same (`sandboxAllowRead`).
    pub allow_read: Vec<PathBuf>,
    /// What a command leaves in `.git` that git would run is kept (`sandboxAllowGitHooks`), not undone.
    pub allow_git_hooks: bool,
}

impl Sandbox {
    /// The program and arguments that run `shell -c command` in the sandbox, in `workspace`.
    pub fn command_line(&self, workspace: &Path, shell: &str, command: &str) -> Vec<OsString> {
        let mut line: Vec<OsString> = vec![self.helper.program.clone().into()];
        if self.helper.subcommand {
            line.push("sandbox-exec".into());
        }
        if self.required {
            line.push("--required".into());
        }
        if !self.network {
            line.push("--no-network".into());
        }
        for path in std::iter::once(workspace).chain(self.writable.iter().map(PathBuf::as_path)) {
            line.push("--writable".into());
            line.push(path.into());
        }
        for (flag, paths) in [
            ("--deny-read", &self.deny_read),
            ("--allow-read", &self.allow_read),
        ] {
            for path in paths {
                line.push(flag.into());
                line.push(path.into());
            }
        }
        line.push("--".into());
        line.push(shell.into());
        line.push("-c".into());
        line.push(command.into());
        line
    }
}

/// Where a sandboxed command may write besides the workspace: the temp directory, the package managers'
/// and build tools' caches (npm, pnpm, yarn, pip, uv, cargo, go), the devices a terminal program uses, and
/// `extra` (the `sandboxWritable` setting). `home` is `$HOME`.
pub fn writable_paths(home: Option<&Path>, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut paths = vec![std::env::temp_dir(), PathBuf::from("/var/tmp")];
    for device in [
        "/dev/null",
        "/dev/zero",
        "/dev/tty",
        "/dev/pts",
        "/dev/ptmx",
        "/dev/shm",
    ] {
        paths.push(PathBuf::from(device));
    }
    if let Some(home) = home {
        for cache in [
            ".cache",                   // pip, uv, yarn 1, pnpm, go-build, and most XDG tools
            ".npm",                     // npm
            ".local/share/pnpm",        // pnpm's store
            ".yarn",                    // yarn berry
            ".cargo/registry",          // cargo
            ".cargo/git",               // cargo
            "go/pkg/mod",               // go modules
            ".local/state/pnpm",        // pnpm
            ".node-gyp",                // native npm packages
            ".local/share/virtualenvs", // pipenv
        ] {
            paths.push(home.join(cache));
        }
    }
    paths.extend(extra.iter().cloned());
    paths
}

/// Creates the caches every install needs (`~/.cache`, `~/.npm`) when they are missing: a sandboxed
/// command could not create them in `$HOME`.
pub fn prepare_caches(home: Option<&Path>) {
    if let Some(home) = home {
        for cache in [".cache", ".npm"] {
            let _ = std::fs::create_dir_all(home.join(cache));
        }
    }
}

/// Asks the helper (`--check`) whether this machine can sandbox commands (the check runs in a child, so
/// this process stays unrestricted).
pub fn check(helper: &Helper, network: bool) -> Support {
    let mut command = helper.command();
    command.arg("--check");
    if !network {
        command.arg("--no-network");
    }
    let output = command.stdin(std::process::Stdio::null()).output();
    match output {
        Ok(output) if output.status.success() => Support::Available,
        Ok(output) => Support::Unavailable(
            String::from_utf8_lossy(&output.stderr)
                .trim()
                .trim_start_matches("openbolt: ")
                .to_owned(),
        ),
        Err(error) => {
            Support::Unavailable(format!("cannot run {}: {error}", helper.program.display()))
        }
    }
}

/// [`check`], once per process (for each network setting).
pub fn check_once(helper: &Helper, network: bool) -> Support {
    static WITH_NETWORK: std::sync::OnceLock<Support> = std::sync::OnceLock::new();
    static WITHOUT_NETWORK: std::sync::OnceLock<Support> = std::sync::OnceLock::new();
    let cell = if network {
        &WITH_NETWORK
    } else {
        &WITHOUT_NETWORK
    };
    cell.get_or_init(|| check(helper, network)).clone()
}

/// The sandbox as the user set it.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub mode: SandboxMode,
    /// More paths commands may write beneath (`sandboxWritable`).
    pub writable: Vec<PathBuf>,
    /// Outgoing TCP connections allowed (`sandboxNetwork`).
    pub network: bool,
    /// More paths commands may not read (`sandboxDenyRead`).
    pub deny_read: Vec<PathBuf>,
    /// Paths commands may read although denied (`sandboxAllowRead`).
    pub allow_read: Vec<PathBuf>,
    /// Commands may leave hooks and config entries that run programs in `.git` (`sandboxAllowGitHooks`).
    pub allow_git_hooks: bool,
}

/// What the settings make of the sandbox: the one commands start in (`None`: unrestricted) and a line
/// for the user saying whether commands are sandboxed. `openbolt` is the running binary; `home` is
/// `$HOME`, whose caches are prepared; `denied` is what commands may not read by default
/// ([`reads::default_denied`]).
pub fn configure(
    settings: &Settings,
    openbolt: &Path,
    home: Option<&Path>,
    denied: Vec<PathBuf>,
) -> (Option<Sandbox>, Configured) {
    let mode = settings.mode;
    if mode == SandboxMode::Off {
        return (
            None,
            Configured::Off("commands are not sandboxed (sandbox: off)".to_owned()),
        );
    }
    let helper = helper(openbolt);
    let support = check_once(&helper, settings.network);
    prepare_caches(home);
    let mut deny_read = denied;
    deny_read.extend(settings.deny_read.iter().cloned());
    let sandbox = Sandbox {
        helper,
        writable: writable_paths(home, &settings.writable),
        required: mode == SandboxMode::Required,
        network: settings.network,
        deny_read,
        allow_read: settings.allow_read.clone(),
        allow_git_hooks: settings.allow_git_hooks,
    };
    match (support, mode) {
        (Support::Available, _) => {
            let listed = |paths: &[PathBuf]| -> String {
                paths
                    .iter()
                    .map(|path| format!(", {}", path.display()))
                    .collect()
            };
            let also = listed(&settings.writable);
            let denied_too = listed(&settings.deny_read);
            let allowed = if settings.allow_read.is_empty() {
                String::new()
            } else {
                format!(" except{}", listed(&settings.allow_read))
                    .replacen("except, ", "except ", 1)
            };
            let offline = if settings.network {
                ""
            } else {
                "; they make no outgoing TCP connection (listening is allowed)"
            };
            let hooks = if settings.allow_git_hooks {
                "; git hooks they install are kept (sandboxAllowGitHooks)"
            } else {
                ""
            };
            (
                Some(sandbox),
                Configured::On(format!(
                    "commands run in a sandbox: they write only in the workspace, the temp directory and package caches{also}; they cannot read your credentials (~/.ssh, ~/.aws, tokens, keyrings, browser profiles, histories, OpenBolt's sessions{denied_too}){allowed}{offline}{hooks}"
                )),
            )
        }
        (Support::Unavailable(reason), SandboxMode::Required) => (
            Some(sandbox),
            Configured::Refusing(format!(
                "commands will not run: the sandbox is required but {reason}"
            )),
        ),
        (Support::Unavailable(reason), _) => (
            None,
            Configured::Unavailable(format!(
                "commands are NOT sandboxed: {reason}; they can write anywhere you can and read your credentials (set sandbox to \"off\" to silence this, or \"required\" to refuse them)"
            )),
        ),
    }
}

/// What [`configure`] tells the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Configured {
    On(String),
    Off(String),
    /// Auto mode without kernel support: a warning.
    Unavailable(String),
    /// Required mode without kernel support: commands are refused.
    Refusing(String),
}

impl Configured {
    pub fn message(&self) -> &str {
        match self {
            Configured::On(message)
            | Configured::Off(message)
            | Configured::Unavailable(message)
            | Configured::Refusing(message) => message,
        }
    }

    /// The user should be warned.
    pub fn is_warning(&self) -> bool {
        matches!(self, Configured::Unavailable(_) | Configured::Refusing(_))
    }
}

/// Whether a failed command's output shows the sandbox refusing a write.
pub fn looks_denied(output: &str) -> bool {
    [
        "Permission denied",
        "EACCES",
        "Operation not permitted",
        "EPERM",
    ]
    .iter()
    .any(|sign| output.contains(sign))
}

/// What a failed command's result adds when the sandbox may have blocked it.
pub const DENIED_HINT: &str = "the sandbox may have blocked a write outside the workspace or a read of your credentials: commands write only in the workspace, the temp directory and package caches, and do not read credentials (add a writable path with the sandboxWritable setting or --sandbox-writable, allow a read with sandboxAllowRead or --sandbox-allow-read, or set sandbox to \"off\")";

impl Sandbox {
    /// What a failed command's result adds when its output shows the sandbox refusing it: the read of
    /// a denied path it names, else a write.
    pub fn denied_hint(&self, output: &str) -> Option<String> {
        if !looks_denied(output) {
            return None;
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Some(
            match reads::named_in(output, &self.deny_read, home.as_deref()) {
                Some(path) => format!(
                    "the sandbox keeps commands from reading {}, where credentials live (allow it with the sandboxAllowRead setting or --sandbox-allow-read, if this command needs it)",
                    path.display()
                ),
                None => DENIED_HINT.to_owned(),
            },
        )
    }
}

/// The helper binary's arguments, read without clap (it must start fast):
/// `[--check] [--required] [--no-network] [--writable PATH]… [--deny-read PATH]… [--allow-read PATH]…
/// -- PROGRAM ARGS…`.
pub fn helper_arguments(
    mut arguments: impl Iterator<Item = OsString>,
) -> Result<ExecArguments, String> {
    let mut parsed = ExecArguments {
        writable: Vec::new(),
        required: false,
        check: false,
        no_network: false,
        deny_read: Vec::new(),
        allow_read: Vec::new(),
        command: Vec::new(),
    };
    while let Some(argument) = arguments.next() {
        match argument.to_str() {
            Some("--check") => parsed.check = true,
            Some("--required") => parsed.required = true,
            Some("--no-network") => parsed.no_network = true,
            Some("--writable") => parsed.writable.push(PathBuf::from(
                arguments.next().ok_or("--writable needs a path")?,
            )),
            Some("--deny-read") => parsed.deny_read.push(PathBuf::from(
                arguments.next().ok_or("--deny-read needs a path")?,
            )),
            Some("--allow-read") => parsed.allow_read.push(PathBuf::from(
                arguments.next().ok_or("--allow-read needs a path")?,
            )),
            Some("--") => {
                parsed.command = arguments.collect();
                break;
            }
            _ => {
                return Err(format!(
                    "unexpected argument {}: {HELPER} [--check] [--required] [--no-network] [--writable PATH]… [--deny-read PATH]… [--allow-read PATH]… -- COMMAND…",
                    argument.to_string_lossy()
                ));
            }
        }
    }
    Ok(parsed)
}

/// The hidden `openbolt sandbox-exec` subcommand.
#[derive(Debug, clap::Args)]
pub struct ExecArguments {
    /// A directory (or file) the command may write beneath.
    #[arg(long, value_name = "PATH")]
    pub writable: Vec<PathBuf>,
    /// Without kernel support, refuse to run (exit 125) instead of running unrestricted.
    #[arg(long)]
    pub required: bool,
    /// Only say whether the sandbox is available (exit 0) or not (exit 125, the reason on stderr).
    #[arg(long)]
    pub check: bool,
    /// Deny outgoing TCP connections too (Landlock ABI 4, Linux 6.7+).
    #[arg(long)]
    pub no_network: bool,
    /// A path the command may not read (a file, or a directory and everything beneath it).
    #[arg(long, value_name = "PATH")]
    pub deny_read: Vec<PathBuf>,
    /// A path the command may read although beneath a denied one.
    #[arg(long, value_name = "PATH")]
    pub allow_read: Vec<PathBuf>,
    /// The program to run and its arguments.
    #[arg(last = true)]
    pub command: Vec<OsString>,
}

/// Restricts this process (no new privileges; writes beneath `writable` only; no reads of `deny_read`)
/// and `exec`s the command. Returns only on failure, with the exit code to use.
pub fn exec(arguments: &ExecArguments) -> i32 {
    let readable = reads::read_rules(
        &arguments.deny_read,
        &arguments.allow_read,
        &arguments.writable,
    );
    let restricted = restrict(&arguments.writable, readable, arguments.no_network);
    if arguments.check {
        return match restricted {
            Ok(()) => 0,
            Err(reason) => {
                report(&reason);
                UNAVAILABLE_EXIT
            }
        };
    }
    if let Err(reason) = restricted
        && arguments.required
    {
        report(&format!(
            "the command was not run: the sandbox is required (sandbox: \"required\") but {reason}"
        ));
        return UNAVAILABLE_EXIT;
    }
    let Some((program, rest)) = arguments.command.split_first() else {
        report("sandbox-exec needs a command after --");
        return 2;
    };
    use std::os::unix::process::CommandExt;
    let error = std::process::Command::new(program).args(rest).exec();
    report(&format!(
        "cannot run {}: {error}",
        program.to_string_lossy()
    ));
    127
}

fn report(message: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("openbolt: {message}");
    }
}

/// Applies the Landlock ruleset to this process (and so to everything it starts): writes only beneath
/// `writable`; with `readable`, file reads only beneath those paths; with `no_network`, no outgoing TCP
/// connection either (Landlock filters ports, not addresses, so localhost is refused too; listening
/// stays allowed).
fn restrict(
    writable: &[PathBuf],
    readable: Option<Vec<std::os::fd::OwnedFd>>,
    no_network: bool,
) -> Result<(), String> {
    use landlock::{
        ABI, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus, path_beneath_rules,
    };
    if std::env::var_os(SIMULATE_UNSUPPORTED).is_some() {
        return Err("this kernel does not offer Landlock (simulated)".to_owned());
    }
    // The newest rights this crate knows; the kernel's own version decides what is enforced.
    let abi = ABI::V6;
    // Reaching unix sockets (an SSH agent, D-Bus) is not a write to the file system: not handled.
    let rights = AccessFs::from_write(abi);
    // Reading is restricted for files only: directories stay listable, programs run anywhere.
    let read: landlock::BitFlags<AccessFs> = if readable.is_some() {
        AccessFs::ReadFile.into()
    } else {
        landlock::BitFlags::EMPTY
    };
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(rights | read)
        .map_err(|error| format!("the sandbox could not be set up: {error}"))?;
    if no_network {
        // Required, not best effort: a kernel that cannot must say so.
        ruleset = ruleset
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessNet::ConnectTcp)
            .map_err(|_| {
                "this kernel's Landlock cannot restrict the network (it needs Linux 6.7 or newer)"
                    .to_owned()
            })?
            .set_compatibility(CompatLevel::BestEffort);
    }
    let status = ruleset
        .create()
        .and_then(|ruleset| ruleset.add_rules(path_beneath_rules(writable, rights)))
        .and_then(|ruleset| {
            ruleset.add_rules(
                readable
                    .into_iter()
                    .flatten()
                    .map(|fd| Ok::<_, landlock::RulesetError>(PathBeneath::new(fd, read))),
            )
        })
        .and_then(|ruleset| ruleset.restrict_self())
        .map_err(|error| format!("the sandbox could not be set up: {error}"))?;
    match status.ruleset {
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Ok(()),
        RulesetStatus::NotEnforced => Err(
            "this kernel does not offer Landlock (Linux 5.13 or newer, with Landlock enabled)"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_as_written() {
        assert_eq!("auto".parse(), Ok(SandboxMode::Auto));
        assert_eq!("required".parse(), Ok(SandboxMode::Required));
        assert_eq!("off".parse(), Ok(SandboxMode::Off));
        assert!("on".parse::<SandboxMode>().is_err());
    }

    #[test]
    fn the_command_line_allows_the_workspace_and_the_extras() {
        let sandbox = Sandbox {
            helper: Helper {
                program: PathBuf::from("/bin/openbolt"),
                subcommand: true,
            },
            writable: vec![PathBuf::from("/tmp")],
            required: true,
            network: false,
            deny_read: vec![PathBuf::from("/h/.ssh")],
            allow_read: vec![PathBuf::from("/h/.ssh/known_hosts")],
            allow_git_hooks: false,
        };
        let line: Vec<String> = sandbox
            .command_line(Path::new("/w"), "/bin/sh", "npm install")
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            line,
            [
                "/bin/openbolt",
                "sandbox-exec",
                "--required",
                "--no-network",
                "--writable",
                "/w",
                "--writable",
                "/tmp",
                "--deny-read",
                "/h/.ssh",
                "--allow-read",
                "/h/.ssh/known_hosts",
                "--",
                "/bin/sh",
                "-c",
                "npm install"
            ]
        );
    }

    #[test]
    fn the_helper_reads_its_arguments() {
        let arguments =
            |line: &[&str]| helper_arguments(line.iter().map(|part| OsString::from(*part)));
        let parsed = arguments(&[
            "--required",
            "--writable",
            "/w",
            "--deny-read",
            "/h/.aws",
            "--allow-read",
            "/h/.aws/config",
            "--",
            "/bin/sh",
            "-c",
            "true",
        ])
        .expect("arguments");
        assert!(parsed.required && !parsed.check);
        assert_eq!(parsed.writable, [PathBuf::from("/w")]);
        assert_eq!(parsed.deny_read, [PathBuf::from("/h/.aws")]);
        assert_eq!(parsed.allow_read, [PathBuf::from("/h/.aws/config")]);
        assert_eq!(parsed.command, ["/bin/sh", "-c", "true"]);
        assert!(arguments(&["--check"]).expect("check").check);
        assert!(arguments(&["--writable"]).is_err());
        assert!(arguments(&["--bogus"]).is_err());
    }

    #[test]
    fn caches_and_extras_are_writable() {
        let paths = writable_paths(Some(Path::new("/home/u")), &[PathBuf::from("/srv/shared")]);
        for expected in [
            "/home/u/.npm",
            "/home/u/.cache",
            "/home/u/.cargo/registry",
            "/srv/shared",
        ] {
            assert!(paths.contains(&PathBuf::from(expected)), "{expected}");
        }
        assert!(
            !paths.contains(&PathBuf::from("/home/u")),
            "not the home itself"
        );
    }
}
