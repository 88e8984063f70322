//! The processes a terminal started, found through `/proc`, and stopping all of them.
//!
//! portable-pty makes each command a session leader. Everything it starts stays in that session unless
//! it calls `setsid` itself; a daemon that does is still a descendant until its parent exits. So the
//! members of a terminal are: every process whose session or process group is the leader's, and every
//! descendant of those by parent links. A leader's pid is not reused while its session has members, so
//! the scan stays right after the leader itself has exited.

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// One line of `/proc/<pid>/stat`, the fields we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: i32,
    pub parent: i32,
    pub group: i32,
    pub session: i32,
    /// Exited, not yet reaped: already gone for our purposes.
    pub zombie: bool,
}

/// Parses `/proc/<pid>/stat`. The command name is in parentheses and may hold spaces and parentheses,
/// so the fields are read after the last `)`.
pub fn parse_stat(stat: &str) -> Option<ProcessInfo> {
    let pid = stat.split_whitespace().next()?.parse().ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let parent = fields.next()?.parse().ok()?;
    let group = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some(ProcessInfo {
        pid,
        parent,
        group,
        session,
        zombie: matches!(state, "Z" | "X" | "x"),
    })
}

/// Every process on the machine that we can see.
#[cfg(target_os = "linux")]
pub fn all_processes() -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            entry.file_name().to_str()?.parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            parse_stat(&stat)
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
pub fn all_processes() -> Vec<ProcessInfo> {
    Vec::new()
}

/// The live members of the terminals led by `leaders` (see the module docs), leaders included.
pub fn members(processes: &[ProcessInfo], leaders: &[i32]) -> Vec<i32> {
    let leaders: HashSet<i32> = leaders.iter().copied().collect();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for process in processes {
        children
            .entry(process.parent)
            .or_default()
            .push(process.pid);
    }
    let mut found: HashSet<i32> = processes
        .iter()
        .filter(|process| {
            leaders.contains(&process.pid)
                || leaders.contains(&process.session)
                || leaders.contains(&process.group)
        })
        .map(|process| process.pid)
        .collect();
    let mut stack: Vec<i32> = found.iter().copied().collect();
    while let Some(pid) = stack.pop() {
        for child in children.get(&pid).into_iter().flatten() {
            if found.insert(*child) {
                stack.push(*child);
            }
        }
    }
    let zombies: HashSet<i32> = processes
        .iter()
        .filter(|process| process.zombie)
        .map(|process| process.pid)
        .collect();
    let mut members: Vec<i32> = found
        .into_iter()
        .filter(|pid| !zombies.contains(pid))
        .collect();
    members.sort_unstable();
    members
}

/// Stops every member of the terminals led by `leaders`: SIGTERM to each member and each leader's
/// group, then, for whatever is still alive after `grace`, SIGKILL. Blocking; returns when none is left
/// (or after a last SIGKILL sweep).
pub fn stop_all(leaders: &[i32], grace: Duration) {
    if leaders.is_empty() {
        return;
    }
    send(leaders, Signal::SIGTERM);
    // A stopped process does not act on SIGTERM until it continues.
    send(leaders, Signal::SIGCONT);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if alive(leaders).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Sweep until nothing is left: a member may fork while we kill.
    for _ in 0..10 {
        let survivors = alive(leaders);
        if survivors.is_empty() {
            return;
        }
        send(leaders, Signal::SIGKILL);
        std::thread::sleep(Duration::from_millis(10));
    }
    let survivors = alive(leaders);
    if !survivors.is_empty() {
        tracing::warn!(?survivors, "processes survived SIGKILL");
    }
}

/// SIGKILL to every member at once, for a panic or a last-moment exit: no waiting.
pub fn kill_now(leaders: &[i32]) {
    send(leaders, Signal::SIGKILL);
}

fn alive(leaders: &[i32]) -> Vec<i32> {
    members(&all_processes(), leaders)
}

fn send(leaders: &[i32], signal: Signal) {
    for pid in alive(leaders) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
    for leader in leaders {
        let _ = killpg(Pid::from_raw(*leader), signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let info = parse_stat("4242 (npm run (dev) x) S 4200 4242 4242 34816 4242 4194560 0 0")
            .expect("parses");
        assert_eq!(
            info,
            ProcessInfo {
                pid: 4242,
                parent: 4200,
                group: 4242,
                session: 4242,
                zombie: false
            }
        );
        assert!(parse_stat("77 (a) Z 1 70 70 0").expect("parses").zombie);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn members_are_the_session_its_groups_and_descendants() {
        let process = |pid, parent, group, session| ProcessInfo {
            pid,
            parent,
            group,
            session,
            zombie: false,
        };
        let table = [
            process(1, 0, 1, 1),
            process(100, 1, 100, 100),   // the openbolt server
            process(200, 100, 200, 200), // a terminal's leader
            process(201, 200, 201, 200), // a pipeline in its own group, same session
            process(202, 1, 202, 200),   // an orphan, reparented to init, same session
            process(203, 201, 203, 203), // a daemon that called setsid: a descendant
            process(300, 100, 300, 300), // another terminal
            ProcessInfo {
                zombie: true,
                ..process(204, 200, 200, 200)
            },
        ];
        assert_eq!(members(&table, &[200]), vec![200, 201, 202, 203]);
        assert_eq!(members(&table, &[200, 300]), vec![200, 201, 202, 203, 300]);
        assert_eq!(members(&table, &[999]), Vec::<i32>::new());
    }
}
