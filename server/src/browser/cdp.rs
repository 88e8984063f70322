//! The Chrome DevTools Protocol over the browser's pipe (`--remote-debugging-pipe`): JSON messages ended
//! by a NUL byte, commands on the pipe the browser reads as its fd 3, answers and events on the one it
//! writes as its fd 4. No port is opened, so no other local process can drive the browser.
//!
//! One reader thread hands each answer to its caller and each event to the session that listens for it
//! (sessions are pages attached with `flatten`); the pipe's end (the browser gone) fails every caller.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// An event of a session: its method and params.
pub type Event = (String, Value);

type Answer = Result<Value, String>;

/// A connection to one browser.
pub struct Cdp {
    writer: Mutex<Box<dyn Write + Send>>,
    next: AtomicU64,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Cdp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Cdp")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shared {
    pending: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    sessions: Mutex<HashMap<String, mpsc::UnboundedSender<Event>>>,
    closed: AtomicBool,
}

impl Cdp {
    /// Talks to a browser through `writer` (its fd 3) and `reader` (its fd 4).
    pub fn new(writer: impl Write + Send + 'static, reader: impl Read + Send + 'static) -> Cdp {
        let shared = Arc::new(Shared::default());
        let reading = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("openbolt-cdp".to_owned())
            .spawn(move || read(reader, &reading));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the browser's reader thread");
            shared.closed.store(true, Ordering::Release);
        }
        Cdp {
            writer: Mutex::new(Box::new(writer)),
            next: AtomicU64::new(1),
            shared,
        }
    }

    /// Whether the browser has gone (its pipe ended).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Sends `method` (to the page `session`, or to the browser) and waits for its answer: its
    /// `result`, or its `error`'s message.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Answer {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::from(session);
        }
        let (sender, receiver) = oneshot::channel();
        crate::lock(&self.shared.pending).insert(id, sender);
        if self.is_closed() {
            crate::lock(&self.shared.pending).remove(&id);
            return Err("the browser has exited".to_owned());
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        // Commands are small, and the browser reads its pipe at once.
        let written = crate::lock(&self.writer).write_all(&bytes);
        if let Err(error) = written {
            crate::lock(&self.shared.pending).remove(&id);
            return Err(format!("cannot write to the browser: {error}"));
        }
        receiver
            .await
            .unwrap_or_else(|_| Err("the browser has exited".to_owned()))
    }

    /// The events of page `session` from now on, until [`Cdp::forget`].
    pub fn listen(&self, session: &str) -> mpsc::UnboundedReceiver<Event> {
        let (sender, receiver) = mpsc::unbounded_channel();
        crate::lock(&self.shared.sessions).insert(session.to_owned(), sender);
        receiver
    }

    pub fn forget(&self, session: &str) {
        crate::lock(&self.shared.sessions).remove(session);
    }
}

/// The reader thread: messages until the pipe ends, then every caller still waiting fails.
fn read(reader: impl Read, shared: &Shared) {
    let mut reader = BufReader::with_capacity(64 << 10, reader);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(0, &mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if buffer.last() == Some(&0) {
            buffer.pop();
        }
        let Ok(message) = serde_json::from_slice::<Value>(&buffer) else {
            tracing::debug!("the browser sent a message that is not JSON");
            continue;
        };
        route(message, shared);
    }
    shared.closed.store(true, Ordering::Release);
    crate::lock(&shared.pending).clear();
    crate::lock(&shared.sessions).clear();
}

fn route(mut message: Value, shared: &Shared) {
    if let Some(id) = message.get("id").and_then(Value::as_u64) {
        let Some(sender) = crate::lock(&shared.pending).remove(&id) else {
            return;
        };
        let answer = match message.get_mut("error") {
            Some(error) => Err(error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the browser refused the command")
                .to_owned()),
            None => Ok(message
                .get_mut("result")
                .map(Value::take)
                .unwrap_or_default()),
        };
        let _ = sender.send(answer);
        return;
    }
    let (Some(method), Some(session)) = (
        message.get("method").and_then(Value::as_str),
        message.get("sessionId").and_then(Value::as_str),
    ) else {
        return;
    };
    let sessions = crate::lock(&shared.sessions);
    if let Some(listener) = sessions.get(session) {
        let params = message.get("params").cloned().unwrap_or_default();
        let _ = listener.send((method.to_owned(), params));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A browser played by a thread: it answers each command with `{"echo": method}`, and sends one
    /// event to session `s1` before the first answer.
    fn fake_browser() -> Cdp {
        let (from_us, to_browser) = std::io::pipe().expect("pipe");
        let (from_browser, to_us) = std::io::pipe().expect("pipe");
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_us);
            let mut writer = to_us;
            let mut first = true;
            let mut buffer = Vec::new();
            while reader.read_until(0, &mut buffer).unwrap_or(0) > 0 {
                buffer.pop();
                let command: Value = serde_json::from_slice(&buffer).expect("json");
                buffer.clear();
                if command["method"] == "Quit" {
                    return;
                }
                if first {
                    first = false;
                    let event = json!({"method": "Page.loadEventFired", "sessionId": "s1", "params": {"timestamp": 1}});
                    writer
                        .write_all(format!("{event}\0").as_bytes())
                        .expect("write");
                }
                let answer = if command["method"] == "Bad" {
                    json!({"id": command["id"], "error": {"code": -32601, "message": "'Bad' wasn't found"}})
                } else {
                    json!({"id": command["id"], "result": {"echo": command["method"]}})
                };
                writer
                    .write_all(format!("{answer}\0").as_bytes())
                    .expect("write");
            }
        });
        Cdp::new(to_browser, from_browser)
    }

    #[tokio::test]
    async fn answers_reach_their_callers_and_events_their_sessions() {
        let cdp = fake_browser();
        let mut events = cdp.listen("s1");
        let answer = cdp.call(Some("s1"), "Page.enable", json!({})).await;
        assert_eq!(answer, Ok(json!({"echo": "Page.enable"})));
        let event = events.recv().await.expect("an event");
        assert_eq!(event.0, "Page.loadEventFired");
        assert_eq!(
            cdp.call(None, "Bad", json!({})).await,
            Err("'Bad' wasn't found".to_owned())
        );
    }

    #[tokio::test]
    async fn a_browser_that_exits_fails_its_callers() {
        let cdp = fake_browser();
        let quit = cdp.call(None, "Quit", json!({})).await;
        assert_eq!(quit, Err("the browser has exited".to_owned()));
        assert!(cdp.is_closed());
        assert!(cdp.call(None, "Page.enable", json!({})).await.is_err());
    }
}
