//! The provider stand-in: a local HTTP server that speaks Anthropic's and OpenAI's streaming wire formats
//! exactly, serving scripted replies with random chunking and faults, and recording every request.

#![allow(dead_code, unreachable_pub)]

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Anthropic,
    OpenAi,
}

/// What goes wrong in a streamed reply, after `after` bytes of its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An error event (Anthropic `event: error`, OpenAI `{"error": …}`), then the end.
    ErrorEvent { after: usize },
    /// The connection closes in the middle of an HTTP chunk.
    Drop { after: usize },
    /// No more bytes; the connection stays open.
    Stall { after: usize },
    /// The whole text and the stop reason, then the end of the body without `message_stop` / `[DONE]`.
    NoEnd,
    /// `200` and an event stream that ends at once with no event: what llama.cpp's OpenAI server
    /// (llama-cpp-python) sends for a prompt longer than its window.
    Empty,
}

/// One scripted response.
#[derive(Clone, Debug)]
pub enum Reply {
    Stream {
        text: String,
        /// Stop with max_tokens/length instead of end_turn/stop.
        cut_at_limit: bool,
        fault: Option<Fault>,
        seed: u64,
        /// Largest text delta, in bytes; model-like replies use 12.
        max_piece: usize,
        /// Largest HTTP chunk written at once, in bytes.
        max_write: usize,
    },
    Status {
        code: u16,
        body: String,
        retry_after: Option<String>,
    },
}

impl Reply {
    pub fn text(text: &str) -> Reply {
        Reply::Stream {
            text: text.to_owned(),
            cut_at_limit: false,
            fault: None,
            seed: 7,
            max_piece: 12,
            max_write: 200,
        }
    }

    /// What the editor tests stop: a reply that stalls in the middle of writing `slow.txt` (the file must
    /// never appear) after its prose, `This one takes a while.`, has arrived.
    pub fn stalled_in_a_file() -> Reply {
        const SLOW: &str = "This one takes a while.\n<boltArtifact id=\"slow\" title=\"Slow\">\n<boltAction type=\"file\" filePath=\"slow.txt\">\npartial content that never ends because the stream stalls here\n</boltAction>\n</boltArtifact>\n";
        let after = SLOW.find("never ends").unwrap_or(SLOW.len());
        Reply::with_fault(SLOW, Fault::Stall { after })
    }

    pub fn with_fault(text: &str, fault: Fault) -> Reply {
        Reply::Stream {
            text: text.to_owned(),
            cut_at_limit: false,
            fault: Some(fault),
            seed: 11,
            max_piece: 12,
            max_write: 200,
        }
    }

    pub fn cut_at_limit(text: &str) -> Reply {
        Reply::Stream {
            text: text.to_owned(),
            cut_at_limit: true,
            fault: None,
            seed: 13,
            max_piece: 12,
            max_write: 200,
        }
    }

    /// A reply at full speed: deltas of up to `max_piece` bytes, written in chunks of up to 16 KiB.
    pub fn bulk(text: &str, max_piece: usize) -> Reply {
        Reply::Stream {
            text: text.to_owned(),
            cut_at_limit: false,
            fault: None,
            seed: 17,
            max_piece,
            max_write: 16 << 10,
        }
    }

    pub fn status(code: u16, body: &str) -> Reply {
        Reply::Status {
            code,
            body: body.to_owned(),
            retry_after: Some("0".to_owned()),
        }
    }
}

/// A request as the stand-in received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The running stand-in. Dropping it stops accepting connections.
///
/// It answers the chat path of its format (`/v1/chat/completions`, `/v1/messages`) from its script;
/// any other request (a client asking a local server for its context window) gets what
/// [`StandIn::answer`] set for that path, else 404 as a real server would, and is kept apart in
/// [`StandIn::other_requests`] without using up a scripted reply.
pub struct StandIn {
    pub url: String,
    pub format: Format,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    others: Arc<Mutex<Vec<Recorded>>>,
    answers: Arc<Mutex<Vec<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Starts a stand-in that serves `replies` in order (the last one again when they run out).
    pub async fn start(format: Format, replies: Vec<Reply>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stand-in");
        let address = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let others = Arc::new(Mutex::new(Vec::new()));
        let answers: Arc<Mutex<Vec<(String, Value)>>> = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(replies)));
        let shared = (requests.clone(), others.clone(), answers.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let script = script.clone();
                let (recorded, others, answers) = shared.clone();
                tokio::spawn(async move {
                    serve(socket, format, &script, &recorded, &others, &answers).await;
                });
            }
        });
        let url = match format {
            Format::Anthropic => format!("http://{address}"),
            Format::OpenAi => format!("http://{address}/v1"),
        };
        StandIn {
            url,
            format,
            requests,
            others,
            answers,
            task,
        }
    }

    /// The chat requests received, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().expect("requests lock").clone()
    }

    /// Requests to other paths (context window probes), in order.
    pub fn other_requests(&self) -> Vec<Recorded> {
        self.others.lock().expect("others lock").clone()
    }

    /// Answers `path` (`/props`, `/v1/models`) with `body` from now on.
    pub fn answer(&self, path: &str, body: Value) {
        self.answers
            .lock()
            .expect("answers lock")
            .push((path.to_owned(), body));
    }
}

async fn serve(
    mut socket: TcpStream,
    format: Format,
    script: &Mutex<VecDeque<Reply>>,
    recorded: &Mutex<Vec<Recorded>>,
    others: &Mutex<Vec<Recorded>>,
    answers: &Mutex<Vec<(String, Value)>>,
) {
    let _ = socket.set_nodelay(true);
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    let chat_path = match format {
        Format::Anthropic => "/v1/messages",
        Format::OpenAi => "/v1/chat/completions",
    };
    if request.path != chat_path {
        let answer = answers
            .lock()
            .expect("answers lock")
            .iter()
            .find(|(path, _)| *path == request.path)
            .map(|(_, body)| body.to_string());
        others.lock().expect("others lock").push(request);
        let (code, body) = match answer {
            Some(body) => (200, body),
            None => (404, r#"{"error":"not found"}"#.to_owned()),
        };
        let head = format!(
            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(body.as_bytes()).await;
        return;
    }
    let reply = {
        let mut script = script.lock().expect("script lock");
        if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        }
    };
    // A picture in the wrong shape is refused as the provider would refuse it.
    if let Some(error) = image_shape_error(format, &request.body) {
        recorded.lock().expect("requests lock").push(request);
        let body = match format {
            Format::Anthropic => json!({"type": "error", "error": {"type": "invalid_request_error", "message": error}}),
            Format::OpenAi => json!({"error": {"message": error, "type": "invalid_request_error", "code": null}}),
        }
        .to_string();
        let head = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(body.as_bytes()).await;
        return;
    }
    recorded.lock().expect("requests lock").push(request);
    match reply {
        None => {}
        Some(Reply::Status {
            code,
            body,
            retry_after,
        }) => {
            let retry = retry_after
                .map(|value| format!("retry-after: {value}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {code} Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
        }
        Some(Reply::Stream {
            text,
            cut_at_limit,
            fault,
            seed,
            max_piece,
            max_write,
        }) => {
            let pace = Pace {
                seed,
                max_piece,
                max_write,
            };
            stream(socket, format, &text, cut_at_limit, fault, pace).await
        }
    }
}

/// What is wrong with the pictures in a chat request, as the provider checks them: Anthropic takes
/// `{"type": "image", "source": {"type": "base64", "media_type", "data"}}` blocks, OpenAI `image_url`
/// parts whose URL is a `data:` URL; the data must be base64 of an image of the type named.
pub fn image_shape_error(format: Format, body: &Value) -> Option<String> {
    use base64::Engine as _;
    let decoded = |media_type: &str, data: &str| -> Result<(), String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|error| format!("image data is not valid base64: {error}"))?;
        let magic: &[u8] = match media_type {
            "image/jpeg" => &[0xff, 0xd8, 0xff],
            "image/png" => b"\x89PNG",
            "image/gif" => b"GIF8",
            "image/webp" => b"RIFF",
            other => return Err(format!("unsupported image media type {other:?}")),
        };
        if bytes.starts_with(magic) {
            Ok(())
        } else {
            Err(format!(
                "image data does not match the media type {media_type}"
            ))
        }
    };
    let messages = body["messages"].as_array()?;
    for message in messages {
        let Some(parts) = message["content"].as_array() else {
            continue;
        };
        for part in parts {
            let kind = part["type"].as_str().unwrap_or_default();
            let checked = match (format, kind) {
                (_, "text") => Ok(()),
                (Format::Anthropic, "image") => {
                    let source = &part["source"];
                    if source["type"] != "base64" {
                        Err("image source type must be base64".to_owned())
                    } else {
                        decoded(
                            source["media_type"].as_str().unwrap_or_default(),
                            source["data"].as_str().unwrap_or_default(),
                        )
                    }
                }
                (Format::OpenAi, "image_url") => {
                    let url = part["image_url"]["url"].as_str().unwrap_or_default();
                    match url
                        .strip_prefix("data:")
                        .and_then(|rest| rest.split_once(";base64,"))
                    {
                        Some((media_type, data)) => decoded(media_type, data),
                        None => Err(format!("image_url is not a base64 data URL: {url:.40}")),
                    }
                }
                (_, other) => Err(format!("unknown content part type {other:?}")),
            };
            if let Err(error) = checked {
                return Some(error);
            }
        }
    }
    None
}

/// The pictures in a chat request's messages, by message index: `(index, media type)`.
pub fn images_in(body: &Value) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, message) in body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for part in message["content"].as_array().into_iter().flatten() {
            match part["type"].as_str() {
                Some("image") => found.push((
                    index,
                    part["source"]["media_type"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )),
                Some("image_url") => found.push((
                    index,
                    part["image_url"]["url"]
                        .as_str()
                        .and_then(|url| url.strip_prefix("data:"))
                        .and_then(|rest| rest.split(';').next())
                        .unwrap_or_default()
                        .to_owned(),
                )),
                _ => {}
            }
        }
    }
    found
}

async fn read_request(socket: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(key, _)| key == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

/// How a stream is cut up: text deltas and HTTP chunks of random sizes from a seed.
#[derive(Clone, Copy)]
struct Pace {
    seed: u64,
    max_piece: usize,
    max_write: usize,
}

/// Splits `text` into pieces of 1 to `max` bytes (extended to a character boundary), from a seed.
fn pieces(text: &str, seed: u64, max: usize) -> Vec<&str> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut end = (start + 1 + (state % max as u64) as usize).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

fn sse(event: Option<&str>, data: &Value, crlf: bool) -> String {
    let newline = if crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    if let Some(event) = event {
        out.push_str(&format!("event: {event}{newline}"));
    }
    out.push_str(&format!("data: {data}{newline}{newline}"));
    out
}

async fn stream(
    mut socket: TcpStream,
    format: Format,
    text: &str,
    cut_at_limit: bool,
    fault: Option<Fault>,
    pace: Pace,
) {
    let seed = pace.seed;
    let crlf = seed % 2 == 1;
    if fault == Some(Fault::Empty) {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n0\r\n\r\n";
        let _ = socket.write_all(head.as_bytes()).await;
        return;
    }
    let mut events: Vec<String> = Vec::new();
    match format {
        Format::Anthropic => {
            events.push(sse(Some("message_start"), &json!({"type":"message_start","message":{"id":"msg_standin","type":"message","role":"assistant","content":[],"model":"standin","stop_reason":null,"usage":{"input_tokens":1200,"output_tokens":1,"cache_read_input_tokens":1000,"cache_creation_input_tokens":0}}}), crlf));
            events.push(sse(Some("content_block_start"), &json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}), crlf));
            events.push(sse(Some("ping"), &json!({"type":"ping"}), crlf));
        }
        Format::OpenAi => {
            events.push(sse(None, &json!({"id":"chatcmpl-standin","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}), crlf));
        }
    }
    let mut sent = 0usize;
    for piece in pieces(text, seed, pace.max_piece) {
        if let Some(Fault::ErrorEvent { after } | Fault::Drop { after } | Fault::Stall { after }) =
            fault
            && sent >= after
        {
            break;
        }
        sent += piece.len();
        events.push(match format {
            Format::Anthropic => sse(Some("content_block_delta"), &json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":piece}}), crlf),
            Format::OpenAi => sse(None, &json!({"id":"chatcmpl-standin","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":piece},"finish_reason":null}]}), crlf),
        });
        if sent.is_multiple_of(5) {
            events.push(": keep-alive\n\n".to_owned());
        }
    }
    if fault.is_none() || fault == Some(Fault::NoEnd) {
        let with_end_marker = fault.is_none();
        match format {
            Format::Anthropic => {
                events.push(sse(
                    Some("content_block_stop"),
                    &json!({"type":"content_block_stop","index":0}),
                    crlf,
                ));
                let reason = if cut_at_limit {
                    "max_tokens"
                } else {
                    "end_turn"
                };
                events.push(sse(Some("message_delta"), &json!({"type":"message_delta","delta":{"stop_reason":reason,"stop_sequence":null},"usage":{"output_tokens":321}}), crlf));
                if with_end_marker {
                    events.push(sse(
                        Some("message_stop"),
                        &json!({"type":"message_stop"}),
                        crlf,
                    ));
                }
            }
            Format::OpenAi => {
                let reason = if cut_at_limit { "length" } else { "stop" };
                events.push(sse(None, &json!({"id":"chatcmpl-standin","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":reason}]}), crlf));
                events.push(sse(None, &json!({"id":"chatcmpl-standin","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":321,"prompt_tokens_details":{"cached_tokens":1000}}}), crlf));
                if with_end_marker {
                    events.push("data: [DONE]\n\n".to_owned());
                }
            }
        }
    }
    if let Some(Fault::ErrorEvent { .. }) = fault {
        events.push(match format {
            Format::Anthropic => sse(Some("error"), &json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}), crlf),
            Format::OpenAi => sse(None, &json!({"error":{"message":"The server had an error while processing your request","type":"server_error","code":null}}), crlf),
        });
    }

    // The whole body is ready before the head goes out, so a reader times the transfer, not the making.
    let body = events.concat();
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    // Write the events' bytes in random pieces, each an HTTP chunk.
    let mut state = seed | 1;
    let mut at = 0;
    while at < body.len() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let end = (at + 1 + (state >> 33) as usize % pace.max_write).min(body.len());
        let piece = &body.as_bytes()[at..end];
        let chunk = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
        if socket.write_all(&chunk).await.is_err() {
            return;
        }
        at = end;
    }
    match fault {
        Some(Fault::Drop { .. }) => {
            // Promise a chunk, send half of it, and close.
            let _ = socket.write_all(b"40\r\ndata: {\"type\":").await;
            let _ = socket.shutdown().await;
        }
        Some(Fault::Stall { .. }) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        _ => {
            let _ = socket.write_all(b"0\r\n\r\n").await;
            let _ = socket.shutdown().await;
        }
    }
}

/// The repository's root (the editor tests find their plugins and tools from it).
pub fn repository() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate is in the repository")
        .to_path_buf()
}

/// `PATH` without the directories that hold an `openbolt` (a developer's `~/.cargo/bin` may): the
/// editors' tests of finding the server start from a machine that has none.
pub fn path_without_openbolt() -> std::ffi::OsString {
    std::env::join_paths(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|directory| !directory.join("openbolt").exists()),
    )
    .expect("PATH")
}

/// A program at `path` that answers `version --json` as an openbolt 9.0.0 speaking `protocol` would, and
/// does nothing else: what the editors must refuse to start.
pub fn openbolt_of_another_protocol(path: &std::path::Path, protocol: u32) {
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo '{{\"name\":\"openbolt\",\"version\":\"9.0.0\",\"protocol\":{protocol}}}'; exit 0; fi\nexit 3\n"
        ),
    )
    .expect("a server of another protocol");
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
}

/// What both editors' end-to-end tests check in the requests their session sent: the editor's
/// `contextTokens` setting of 40,000 reached the server (every output limit is a quarter of it), the
/// `@index.html` its completion put in a prompt attached the file, and a read was answered in the turn.
pub fn assert_editor_context(standin: &StandIn) {
    let requests = standin.recorded();
    let limits: Vec<&Value> = requests
        .iter()
        .map(|request| &request.body["max_tokens"])
        .collect();
    assert!(
        !limits.is_empty() && limits.iter().all(|limit| **limit == 10_000),
        "contextTokens did not reach the server: {limits:?}"
    );
    let bodies: Vec<String> = requests
        .iter()
        .map(|request| request.body.to_string())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|body| body.contains("explain @index.html")
                && body.contains("<file path=\\\"index.html\\\">")),
        "no request carried the mentioned file"
    );
    assert!(
        bodies.iter().any(|body| body.contains("<read-results>")),
        "no request answered the read"
    );
}

/// Both editors' search scenario: `notes/search-me.txt`, whose only line with "needle" is line 23.
pub fn write_needle_notes(workspace: &std::path::Path) {
    let notes: String = (1..=30)
        .map(|line| {
            if line == 23 {
                "the needle is here\n".to_owned()
            } else {
                format!("line {line} of the notes\n")
            }
        })
        .collect();
    std::fs::create_dir_all(workspace.join("notes")).expect("notes");
    std::fs::write(workspace.join("notes/search-me.txt"), notes).expect("notes");
}

/// A turn that writes a file and starts a dev server: the editors' e2e revert it while its dev server
/// is checked (the 3 s after the reply), which waits for the turn.
pub const SERVE_CHECKED: &str = "Serving it.\n<boltArtifact id=\"serve\" title=\"Serve\">\n<boltAction type=\"file\" filePath=\"served.html\">\n<p>served</p>\n</boltAction>\n<boltAction type=\"start\">\nexec sleep 120\n</boltAction>\n</boltArtifact>\n";

/// Both editors' scenario of the environment's `OPENBOLT_AUTO_FIX=0` deciding once the editor's own
/// setting is unset: this prompt's reply writes a broken file, and no fix round may follow.
pub const BROKEN_AGAIN_PROMPT: &str = "write the total once more";
pub const BROKEN_AGAIN: &str = "Writing it again.\n<boltArtifact id=\"again\" title=\"Again\">\n<boltAction type=\"file\" filePath=\"src/again.js\">\nexport function again(items) {\n  return items.reduce((a, b) => a + b, 0;\n}\n</boltAction>\n</boltArtifact>\n\nWritten again.";

/// Both editors' page-check scenario: a page under `ledger/` whose script throws on load, served by
/// `python3 -m http.server` on a free port. With no fix round to follow, the editor shows the verdict.
pub const LEDGER_PROMPT: &str = "a ledger page";
pub const LEDGER_THROWS: &str = "Here is the ledger.\n<boltArtifact id=\"ledger\" title=\"Ledger\">\n<boltAction type=\"file\" filePath=\"ledger/index.html\">\n<!doctype html>\n<html><body><h1>Ledger</h1><div id=\"root\"></div><script type=\"module\" src=\"main.js\"></script></body></html>\n</boltAction>\n<boltAction type=\"file\" filePath=\"ledger/main.js\">\nconst user = undefined;\nfunction render() {\n  document.getElementById('root').textContent = user.name;\n}\nrender();\n</boltAction>\n<boltAction type=\"start\">\ncd ledger && exec python3 -m http.server 0 --bind 127.0.0.1\n</boltAction>\n</boltArtifact>\n\nThe ledger is served.";

/// A link to the machine's Chromium under another name in `directory`: what a `browserPath` setting
/// names in the editors' scenarios (the server log then names it).
pub fn browser_link(directory: &std::path::Path) -> std::path::PathBuf {
    let link = directory.join("my-chromium");
    std::os::unix::fs::symlink(which("chromium"), &link).expect("link");
    link
}

/// `program` on `PATH` (Chromium: `scripts/vscode-test-deps` installs it).
pub fn which(program: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|directory| directory.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{program} on PATH"))
}

/// The last request the stand-in got was `prompt`'s own, not a fix round's report.
pub fn assert_no_fix_round_after(standin: &StandIn, prompt: &str) {
    let last = standin
        .recorded()
        .last()
        .expect("requests")
        .body
        .to_string();
    assert!(
        last.contains(prompt) && !last.contains("automatic fix round"),
        "{last}"
    );
}

/// Both editors' fix-round scenario: a file with a syntax error, then the fix round's reply, which runs a
/// command first (its approval question is when the test looks at the editor's diagnostics).
pub const BROKEN_TOTAL: &str = "Writing it.\n<boltArtifact id=\"total\" title=\"Total\">\n<boltAction type=\"file\" filePath=\"src/total.js\">\nexport function total(items) {\n  return items.reduce((a, b) => a + b, 0;\n}\n</boltAction>\n</boltArtifact>\n";
pub const FIXED_TOTAL: &str = "Fixing it.\n<boltArtifact id=\"total\" title=\"Total\">\n<boltAction type=\"shell\">\necho fixing\n</boltAction>\n<boltAction type=\"file\" filePath=\"src/total.js\">\nexport function total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n</boltAction>\n</boltArtifact>\n";

/// The text of the last message of a request's body (the user's), in either wire format.
pub fn last_user_message(request: &Value) -> String {
    let messages = request["messages"].as_array().expect("messages");
    let last = messages.last().expect("a message");
    assert_eq!(last["role"], "user");
    match &last["content"] {
        Value::String(text) => text.clone(),
        content => content
            .as_array()
            .and_then(|parts| parts.iter().find(|part| part["type"] == "text"))
            .and_then(|part| part["text"].as_str())
            .expect("a text block")
            .to_owned(),
    }
}

/// A process's exit code and all it printed (stdout, then stderr).
pub fn code_and_text(output: &std::process::Output) -> (Option<i32>, String) {
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// A project folder for one test, and beside it the data directory its runs keep sessions and the map
/// cache in.
pub struct TempProject {
    _root: tempfile::TempDir,
    pub path: std::path::PathBuf,
}

impl TempProject {
    pub fn new() -> TempProject {
        let root = tempfile::tempdir().expect("temp dir");
        let path = root.path().join("project");
        std::fs::create_dir_all(&path).expect("mkdir");
        TempProject { _root: root, path }
    }

    pub fn data(&self) -> std::path::PathBuf {
        self.path.parent().expect("parent").join("data")
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path.join(name)).expect("read")
    }

    /// Runs `openbolt <arguments>` in the project, against an OpenAI-format `standin`, with only the
    /// environment it needs.
    pub async fn openbolt(&self, standin: &StandIn, arguments: &[&str]) -> (Option<i32>, String) {
        self.openbolt_with(standin, arguments, &[]).await
    }

    /// [`TempProject::openbolt`] with more environment (`HOME` is the project folder).
    pub async fn openbolt_with(
        &self,
        standin: &StandIn,
        arguments: &[&str],
        env: &[(&str, &str)],
    ) -> (Option<i32>, String) {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
            .args(arguments)
            .current_dir(&self.path)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.path)
            .env("OPENBOLT_DATA_DIR", self.data())
            .env("OPENAI_BASE_URL", &standin.url)
            .env("OPENBOLT_MODEL", "m")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("openbolt runs");
        code_and_text(&output)
    }

    /// The environment `openbolt lsp` gets in this project against an OpenAI-format `standin`.
    pub fn lsp_env(&self, standin: &StandIn) -> Vec<(&'static str, String)> {
        vec![
            ("OPENAI_BASE_URL", standin.url.clone()),
            ("OPENBOLT_MODEL", "m".to_owned()),
            ("OPENBOLT_DATA_DIR", self.data().display().to_string()),
        ]
    }
}

/// Writes a finished session of `turns` turns into the store in `data_dir` for `workspace` (as a server
/// there would have): each reply has prose, an artifact of `cards` file actions in the middle of it, and
/// prose after. The session is titled `title`; its id is returned.
pub fn long_session(
    data_dir: &std::path::Path,
    workspace: &std::path::Path,
    title: &str,
    turns: usize,
    cards: usize,
) -> String {
    use openbolt::engine::TurnStatus;
    use openbolt::types::ActionUpdate;
    let workspace = std::fs::canonicalize(workspace).expect("the workspace exists");
    let store = openbolt::store::Store::open(data_dir).expect("the store opens");
    let session = format!("long-{turns}");
    for turn in 0..turns {
        let prompt = if turn == 0 {
            title.to_owned()
        } else {
            format!("change number {turn}")
        };
        let message = format!("{session}-m{turn}");
        store.begin_turn(
            &session,
            &workspace,
            &prompt,
            &format!("{message}u"),
            &message,
            &[],
        );
        let before = format!("Turn {turn}: here is the change.\n\n");
        store.append_prose(&message, &before);
        for card in 0..cards {
            let update: ActionUpdate = serde_json::from_value(serde_json::json!({
                "artifactId": format!("a{turn}"),
                "actionId": card,
                "type": "file",
                "filePath": format!("src/turn{turn}/part{card}.js"),
                "status": "complete",
                "proseOffset": {"utf8": before.len(), "utf16": before.len()},
            }))
            .expect("an action update");
            store.record_action(&message, &update);
        }
        let after = format!("End of turn {turn}.");
        store.append_prose(&message, &after);
        store
            .end_turn(
                &message,
                TurnStatus::Complete,
                &format!("{before}{after}"),
                None,
                openbolt::provider::Usage::default(),
            )
            .expect("the turn is saved");
    }
    session
}
