//! Who gets the CPU first in `openbolt lsp`. The protocol thread answers the editor; the work of turns
//! (parsing a reply, checking the files it writes, reading a flood of terminal output) runs on threads
//! of lower priority, so that on a busy machine a turn cannot delay an answer by a scheduler period.
//! The processes the user's commands start keep the normal priority: a child inherits its parent
//! thread's priority, and an unprivileged process cannot raise it again, so they are started from a
//! thread that kept it ([`at_normal_priority`]).

use std::sync::OnceLock;
use std::sync::mpsc;

/// The nice value of the threads that do a turn's work (0 is normal, 19 the lowest).
pub const BACKGROUND_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// The thread of normal priority that starts processes, once [`keep_normal_priority_thread`] ran.
static NORMAL: OnceLock<std::sync::Mutex<mpsc::Sender<Job>>> = OnceLock::new();

/// Lowers the calling thread to [`BACKGROUND_NICE`] (Linux: the nice value is per thread). Threads
/// it starts inherit it.
pub fn lower_this_thread() {
    if let Err(error) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
        tracing::debug!(%error, "cannot lower a worker thread's priority");
    }
}

/// Starts the thread that [`at_normal_priority`] runs work on. Call it from a thread of normal
/// priority (the main thread), before threads are lowered; once per process.
pub fn keep_normal_priority_thread() {
    let (jobs, queue) = mpsc::channel::<Job>();
    let started = std::thread::Builder::new()
        .name("openbolt-spawner".to_owned())
        .spawn(move || {
            for job in queue {
                job();
            }
        });
    match started {
        Ok(_) => {
            let _ = NORMAL.set(std::sync::Mutex::new(jobs));
        }
        Err(error) => tracing::warn!(%error, "cannot start the spawner thread"),
    }
}

/// Runs `work` on the thread of normal priority, when there is one (else here), and returns what it
/// returns: processes it starts get the normal priority.
pub fn at_normal_priority<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let Some(jobs) = NORMAL.get() else {
        return work();
    };
    let (answer, answered) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = answer.send(work());
    });
    if let Err(mpsc::SendError(job)) = crate::lock(jobs).send(job) {
        // The thread is gone: the work runs here rather than not at all.
        job();
    }
    answered
        .recv()
        .unwrap_or_else(|_| panic!("the work panicked on the spawner thread"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        rustix::process::getpriority_process(None).expect("getpriority")
    }

    #[test]
    fn work_runs_at_normal_priority_from_a_lowered_thread() {
        keep_normal_priority_thread();
        let normal = nice_of_this_thread();
        let lowered = std::thread::spawn(|| {
            lower_this_thread();
            let here = nice_of_this_thread();
            let there = at_normal_priority(nice_of_this_thread);
            (here, there)
        })
        .join()
        .expect("the thread ends");
        assert_eq!(lowered, (BACKGROUND_NICE.max(normal), normal));
    }
}
