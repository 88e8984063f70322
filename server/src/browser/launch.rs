//! What the helper (`openbolt-sandbox --browser`, or `openbolt browser-exec`) does before it becomes the
//! browser: its stdin and stdout (the two pipes) move to fds 3 and 4, where `--remote-debugging-pipe`
//! looks for them; it starts a session of its own (the browser and its children are one process group,
//! killed together); it asks to be killed when its parent thread dies, so a server killed with
//! SIGKILL leaves no browser behind; then it `exec`s the browser.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Becomes `command` (the browser and its arguments) as described above; returns only on failure, with
/// the exit code.
pub fn exec(command: &[OsString]) -> i32 {
    match prepare() {
        Ok(()) => {}
        Err(message) => {
            report(&message);
            return 2;
        }
    }
    let Some((program, arguments)) = command.split_first() else {
        report("no browser to start");
        return 2;
    };
    let error = std::os::unix::process::CommandExt::exec(
        std::process::Command::new(program).args(arguments),
    );
    report(&format!(
        "cannot start {}: {error}",
        std::path::Path::new(program).display()
    ));
    127
}

fn report(message: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("openbolt browser: {message}");
    }
}

fn prepare() -> Result<(), String> {
    use rustix::io::{FdFlags, fcntl_dupfd_cloexec, fcntl_setfd};
    fn failed(what: &'static str) -> impl Fn(rustix::io::Errno) -> String {
        move |error| format!("{what}: {error}")
    }
    // Linux kills the browser when the thread that started this helper ends (the server's browser
    // thread lives as long as the browser, so that is when the server dies).
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(failed("cannot ask for the parent's death signal"))?;
    rustix::process::setsid().map_err(failed("cannot start a session"))?;
    let commands = fcntl_dupfd_cloexec(std::io::stdin().as_fd(), 3).map_err(failed("fd 3"))?;
    let answers = fcntl_dupfd_cloexec(std::io::stdout().as_fd(), 4).map_err(failed("fd 4"))?;
    if commands.as_raw_fd() != 3 || answers.as_raw_fd() != 4 {
        return Err("fds 3 and 4 are taken".to_owned());
    }
    for fd in [&commands, &answers] {
        fcntl_setfd(fd, FdFlags::empty()).map_err(failed("cannot keep the pipes open"))?;
    }
    // The browser reads nothing from stdin and writes its chatter to stderr (the log file).
    let null = OwnedFd::from(
        std::fs::File::open("/dev/null").map_err(|error| format!("/dev/null: {error}"))?,
    );
    rustix::stdio::dup2_stdin(&null).map_err(failed("stdin"))?;
    rustix::stdio::dup2_stdout(std::io::stderr().as_fd()).map_err(failed("stdout"))?;
    // The pipes stay open across exec: they are the browser's from here on.
    std::mem::forget(commands);
    std::mem::forget(answers);
    Ok(())
}
