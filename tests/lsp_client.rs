//! A scripted LSP client for the tests: spawns `openbolt lsp`, frames JSON-RPC, answers the server's
//! requests the way an editor would (applying workspace edits to its own copy of the open documents,
//! saving them when it declared `savesEdits`, answering approvals), and records everything it saw.

#![allow(dead_code, unreachable_pub)]

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Lsp {
    pub child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Value>,
    next_id: i64,
    /// Every notification and server request, in order.
    pub seen: Vec<Value>,
    /// Responses that arrived while waiting for something else.
    responses: HashMap<i64, Value>,
    /// The title answered to `window/showMessageRequest`; `None` dismisses it.
    pub approval: Option<String>,
    /// Apply edits, write the files and send `didSave` (what our extensions do).
    pub saves_edits: bool,
    /// The documents this editor has open: URI → (version, text).
    pub open: HashMap<String, (i32, String)>,
    /// Positions count UTF-8 bytes (else UTF-16 units), as negotiated.
    pub utf8: bool,
}

pub fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// No environment beyond PATH and HOME.
pub const NO_ENV: &[(&str, &str)] = &[];

impl Lsp {
    /// Starts the server with only `env` in its environment (plus PATH and HOME).
    pub fn spawn<V: AsRef<std::ffi::OsStr>>(env: &[(&str, V)]) -> Lsp {
        let home = std::env::temp_dir();
        let mut command = Command::new(env!("CARGO_BIN_EXE_openbolt"));
        command
            .arg("lsp")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .envs(env.iter().map(|(key, value)| (*key, value.as_ref())))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("openbolt lsp starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = value.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0u8; length.expect("a Content-Length header")];
                if reader.read_exact(&mut body).await.is_err() {
                    return;
                }
                let message: Value = serde_json::from_slice(&body).expect("the server sends JSON");
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        Lsp {
            stdin: child.stdin.take(),
            child,
            incoming,
            next_id: 1,
            seen: Vec::new(),
            responses: HashMap::new(),
            approval: Some("Run".to_owned()),
            saves_edits: false,
            open: HashMap::new(),
            utf8: false,
        }
    }

    /// Spawns and initializes with `workspace` as the root.
    pub async fn start<V: AsRef<std::ffi::OsStr>>(
        workspace: &Path,
        env: &[(&str, V)],
        options: Value,
        utf8: bool,
    ) -> Lsp {
        let mut lsp = Lsp::spawn(env);
        lsp.saves_edits = options["savesEdits"] == true;
        let encodings = if utf8 {
            json!(["utf-8", "utf-16"])
        } else {
            json!(["utf-16"])
        };
        lsp.utf8 = utf8;
        let response = lsp
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": uri(workspace),
                    "workspaceFolders": [{"uri": uri(workspace), "name": "w"}],
                    "capabilities": {"general": {"positionEncodings": encodings}, "window": {"showDocument": {"support": true}, "workDoneProgress": true}},
                    "initializationOptions": options,
                }),
            )
            .await;
        assert!(response.get("result").is_some(), "{response}");
        lsp.notify("initialized", json!({})).await;
        lsp
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.expect("write");
        stdin.flush().await.expect("flush");
    }

    pub async fn send(&mut self, message: &Value) {
        self.send_raw(&framed(message)).await;
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// Sends a request; returns its id.
    pub async fn start_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        id
    }

    /// Sends a request to a server that may be exiting: `None` when it could not be written.
    pub async fn try_start_request(&mut self, method: &str, params: Value) -> Option<i64> {
        let id = self.next_id;
        self.next_id += 1;
        let framed =
            framed(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let stdin = self.stdin.as_mut()?;
        let written = stdin.write_all(&framed).await.and(stdin.flush().await);
        written.ok().map(|()| id)
    }

    /// Every message the server still sends until it closes its output (responses included).
    pub async fn rest(&mut self) -> Vec<Value> {
        let mut rest = Vec::new();
        while let Some(message) = tokio::time::timeout(PATIENCE, self.incoming.recv())
            .await
            .expect("the server closes its output")
        {
            rest.push(message);
        }
        rest
    }

    /// Sends a request and waits for its response (the whole response object).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.start_request(method, params).await;
        self.response(id).await
    }

    pub async fn response(&mut self, id: i64) -> Value {
        loop {
            if let Some(response) = self.responses.remove(&id) {
                return response;
            }
            self.next().await;
        }
    }

    /// Handles the next message: a response is kept, a request answered, a notification recorded.
    pub async fn next(&mut self) {
        let message = tokio::time::timeout(PATIENCE, self.incoming.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "nothing from the server in {PATIENCE:?}; saw {:#?}",
                    self.methods()
                )
            })
            .expect("the server is running");
        if message.get("method").is_none() {
            let id = message["id"].as_i64().unwrap_or(-1);
            self.responses.insert(id, message);
            return;
        }
        self.seen.push(message.clone());
        if let Some(id) = message.get("id").cloned() {
            let result = self.answer(&message).await;
            self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
                .await;
        }
    }

    async fn answer(&mut self, request: &Value) -> Value {
        match request["method"].as_str().unwrap_or_default() {
            "workspace/applyEdit" => self.apply_edit(&request["params"]["edit"]).await,
            "window/showMessageRequest" => match &self.approval {
                Some(title) => json!({"title": title}),
                None => Value::Null,
            },
            "window/showDocument" => json!({"success": true}),
            _ => Value::Null,
        }
    }

    /// Applies a workspace edit as an editor: to open documents (sending didChange), and — when this
    /// client saves edits — to disk, followed by didSave.
    async fn apply_edit(&mut self, edit: &Value) -> Value {
        let operations = edit["documentChanges"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for operation in operations {
            if operation["kind"] == "create" {
                continue;
            }
            let target = operation["textDocument"]["uri"]
                .as_str()
                .expect("uri")
                .to_owned();
            let version = operation["textDocument"]["version"].as_i64();
            let edits = operation["edits"].as_array().expect("edits");
            let path = target.strip_prefix("file://").expect("file uri").to_owned();
            let new_text = if let Some((have, text)) = self.open.get(&target).cloned() {
                if version != Some(i64::from(have)) {
                    return json!({"applied": false, "failureReason": format!("version {version:?} is not {have}")});
                }
                let new_text = apply_text_edits(&text, edits, self.utf8);
                let next = have + 1;
                self.open.insert(target.clone(), (next, new_text.clone()));
                self.notify(
                    "textDocument/didChange",
                    json!({"textDocument": {"uri": target, "version": next}, "contentChanges": [{"text": new_text}]}),
                )
                .await;
                new_text
            } else {
                let disk = std::fs::read_to_string(&path).unwrap_or_default();
                apply_text_edits(&disk, edits, self.utf8)
            };
            if self.saves_edits {
                if let Some(parent) = Path::new(&path).parent() {
                    std::fs::create_dir_all(parent).expect("mkdir");
                }
                // Saving writes the whole buffer: its unsaved changes too.
                std::fs::write(&path, &new_text).expect("save");
                self.notify(
                    "textDocument/didSave",
                    json!({"textDocument": {"uri": target}}),
                )
                .await;
            }
        }
        json!({"applied": true})
    }

    /// Waits until a notification or request satisfying `predicate` arrives (or has arrived).
    pub async fn wait_for(&mut self, predicate: impl Fn(&Value) -> bool) -> Value {
        let mut checked = 0;
        loop {
            if let Some(found) = self.seen[checked..]
                .iter()
                .find(|message| predicate(message))
            {
                return found.clone();
            }
            checked = self.seen.len();
            self.next().await;
        }
    }

    /// Handles messages until `condition` over everything seen so far gives a value.
    pub async fn wait_until<T>(&mut self, condition: impl Fn(&Lsp) -> Option<T>) -> T {
        loop {
            if let Some(value) = condition(self) {
                return value;
            }
            self.next().await;
        }
    }

    pub async fn wait_method(&mut self, method: &str) -> Value {
        self.wait_for(|message| message["method"] == method).await
    }

    /// Whether an answer with this error code arrived that no request was waiting for (a parse error
    /// has no id).
    pub fn responses_with_code(&self, code: i64) -> bool {
        self.responses
            .values()
            .any(|response| response["error"]["code"] == code)
    }

    pub fn methods(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|message| message["method"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The `window/showMessageRequest` questions the server asked, in order.
    pub fn questions(&self) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|message| message["method"] == "window/showMessageRequest")
            .cloned()
            .collect()
    }

    /// Every message the server sent so far, as JSON text.
    pub fn everything_seen(&self) -> String {
        self.seen.iter().map(Value::to_string).collect()
    }

    pub fn notifications(&self, method: &str) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|message| message["method"] == method)
            .map(|message| message["params"].clone())
            .collect()
    }

    pub async fn open_document(&mut self, path: &Path, text: &str) {
        let target = uri(path);
        self.open.insert(target.clone(), (1, text.to_owned()));
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": target, "languageId": "plaintext", "version": 1, "text": text}}),
        )
        .await;
    }

    /// Ends the session politely: shutdown, exit; waits for the process.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        let response = self.request("shutdown", Value::Null).await;
        assert!(response.get("error").is_none(), "{response}");
        self.notify("exit", Value::Null).await;
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("exits")
            .expect("status")
    }
}

/// `message` as it goes on the wire: its header, then its body.
fn framed(message: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(message).expect("json");
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(&body);
    framed
}

/// The byte offset of an LSP position in `text` (UTF-8 bytes or UTF-16 units per character).
fn offset(text: &str, position: &Value, utf8: bool) -> usize {
    let line = position["line"].as_u64().expect("line") as usize;
    let character = position["character"].as_u64().expect("character") as usize;
    let mut at = 0;
    for _ in 0..line {
        match text[at..].find('\n') {
            Some(end) => at += end + 1,
            None => return text.len(),
        }
    }
    let line_end = text[at..].find('\n').map_or(text.len(), |end| at + end);
    let mut units = 0;
    for (index, c) in text[at..line_end].char_indices() {
        if units >= character {
            return at + index;
        }
        units += if utf8 { c.len_utf8() } else { c.len_utf16() };
    }
    line_end
}

/// Applies LSP text edits (ranges in the original text) the way an editor does.
pub fn apply_text_edits(text: &str, edits: &[Value], utf8: bool) -> String {
    let mut spans: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|edit| {
            (
                offset(text, &edit["range"]["start"], utf8),
                offset(text, &edit["range"]["end"], utf8),
                edit["newText"].as_str().expect("newText"),
            )
        })
        .collect();
    spans.sort_by_key(|(start, _, _)| *start);
    let mut out = String::new();
    let mut at = 0;
    for (start, end, new_text) in spans {
        assert!(start >= at, "overlapping edits");
        out.push_str(&text[at..start]);
        out.push_str(new_text);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}
