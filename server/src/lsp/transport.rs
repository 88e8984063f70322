//! A guard in front of tower-lsp-server's transport.
//!
//! tower-lsp-server reads stdin through a `FramedRead`, and a frame whose body is not a JSON-RPC message
//! ends that stream: one malformed message from the client would stop the server. So every frame is
//! checked here first. A good frame is passed through unchanged; a bad one is answered here with the
//! JSON-RPC error it deserves (`-32700` parse error, `-32600` invalid request) and goes no further. The
//! answer has to share stdout with the server's own output, so that output is re-framed here too, and
//! whole frames from either side are written in turn.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The error a request gets once the server is going away (SIGTERM): see `docs/protocol.md`.
pub const SHUTTING_DOWN: i64 = -32015;

/// The largest message accepted (a whole large file in `didOpen` fits).
const MAX_MESSAGE: usize = 256 << 20;

/// The longest header line kept; a longer one is read to its end without keeping it.
const MAX_HEADER_LINE: usize = 8 << 10;

/// Reads one header line (without its line break) into `line`, keeping at most [`MAX_HEADER_LINE`]
/// bytes. `Ok(None)` at the end of the stream; `Ok(Some(false))` for a line that was too long.
async fn read_header_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut fits = true;
    let mut any = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let (taken, done) = match memchr::memchr(b'\n', available) {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        if fits && line.len() + taken <= MAX_HEADER_LINE + 2 {
            line.extend_from_slice(&available[..taken]);
        } else {
            fits = false;
            line.clear();
        }
        reader.consume(taken);
        if done {
            while line
                .last()
                .is_some_and(|byte| matches!(byte, b'\r' | b'\n'))
            {
                line.pop();
            }
            return Ok(Some(fits));
        }
    }
}

/// One frame read from a stream: its body, or why it is not one.
enum Frame {
    Body(Vec<u8>),
    /// The headers had no usable `Content-Length`; the frame was skipped.
    BadHeader(String),
    End,
}

async fn read_frame<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Frame> {
    let mut length: Option<Result<usize, String>> = None;
    let mut saw_header = false;
    let mut bytes = Vec::new();
    loop {
        let Some(fits) = read_header_line(reader, &mut bytes).await? else {
            return Ok(Frame::End);
        };
        if !fits {
            saw_header = true;
            length = Some(Err(format!("a header line over {MAX_HEADER_LINE} bytes")));
            continue;
        }
        let line = String::from_utf8_lossy(&bytes);
        let line = line.as_ref();
        if line.is_empty() {
            if saw_header {
                break;
            }
            continue;
        }
        saw_header = true;
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
            && !matches!(length, Some(Err(_)))
        {
            length = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length {:?}", value.trim())),
            );
        }
    }
    match length {
        Some(Ok(length)) if length <= MAX_MESSAGE => {
            let mut body = vec![0; length];
            reader.read_exact(&mut body).await?;
            Ok(Frame::Body(body))
        }
        Some(Ok(length)) => {
            // Too big to take: skip it without keeping it.
            let mut rest = reader.take(length as u64);
            tokio::io::copy(&mut rest, &mut tokio::io::sink()).await?;
            Ok(Frame::BadHeader(format!(
                "a message of {length} bytes is over the limit of {MAX_MESSAGE}"
            )))
        }
        Some(Err(reason)) => Ok(Frame::BadHeader(reason)),
        None => Ok(Frame::BadHeader("no Content-Length header".to_owned())),
    }
}

/// Why `body` would not be accepted as a JSON-RPC message, with the error code to answer, and the id
/// to answer to when one can be read.
pub fn check_message(body: &[u8]) -> Result<Value, (i64, String, Value)> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| (-32700, format!("Parse error: {error}"), Value::Null))?;
    let Some(object) = value.as_object() else {
        return Err((
            -32600,
            "Invalid request: not an object".to_owned(),
            Value::Null,
        ));
    };
    let id = object.get("id").cloned().unwrap_or(Value::Null);
    let valid_id = |id: Option<&Value>| {
        matches!(id, None | Some(Value::Null | Value::String(_)))
            || id.is_some_and(|id| id.as_i64().is_some())
    };
    let invalid = |reason: &str| Err((-32600, format!("Invalid request: {reason}"), id.clone()));
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return invalid("\"jsonrpc\" must be \"2.0\"");
    }
    if !valid_id(object.get("id")) {
        return invalid("\"id\" must be an integer or a string");
    }
    match object.get("method") {
        Some(Value::String(_)) => {
            if !matches!(
                object.get("params"),
                None | Some(Value::Null | Value::Object(_) | Value::Array(_))
            ) {
                return invalid("\"params\" must be an object or an array");
            }
            Ok(value)
        }
        Some(_) => invalid("\"method\" must be a string"),
        None if object.contains_key("result") || object.contains_key("error") => {
            if object.contains_key("error")
                && serde_json::from_value::<tower_lsp_server::jsonrpc::Error>(
                    object["error"].clone(),
                )
                .is_err()
            {
                return invalid("\"error\" must have a code and a message");
            }
            Ok(value)
        }
        None => invalid("neither a request nor a response"),
    }
}

/// An `openbolt/…` request without params gets `{}`: tower-lsp-server answers a handler that takes
/// params "Missing params field" otherwise, and one that takes none refuses `{}` — so our methods all
/// take params, and those that need none accept absent, `null`, `{}` and `[]` alike. `None`: unchanged.
fn normalized(mut message: Value) -> Option<Vec<u8>> {
    let object = message.as_object_mut()?;
    let ours = object
        .get("method")
        .and_then(Value::as_str)
        .is_some_and(|method| method.starts_with("openbolt/"));
    if !ours || !object.contains_key("id") || object.contains_key("params") {
        return None;
    }
    object.insert("params".to_owned(), json!({}));
    serde_json::to_vec(&message).ok()
}

/// What goes into the stream of our notifications.
#[derive(Debug)]
pub enum Bulk {
    Frame(Vec<u8>),
    /// Answered once every frame sent before it is written.
    Barrier(oneshot::Sender<()>),
}

/// Sends our notifications into their own queue to stdout, which a slow client makes wait
/// (back-pressure). The server's responses do not queue behind them (see [`write_frames`]); a response
/// that must follow notifications — a turn's — waits for [`Notifier::written`] first.
#[derive(Clone, Debug)]
pub struct Notifier {
    frames: mpsc::Sender<Bulk>,
}

impl Notifier {
    pub fn new(frames: mpsc::Sender<Bulk>) -> Notifier {
        Notifier { frames }
    }

    pub async fn notify<N>(&self, params: N::Params)
    where
        N: tower_lsp_server::ls_types::notification::Notification,
    {
        let message = json!({"jsonrpc": "2.0", "method": N::METHOD, "params": params});
        let _ = self
            .frames
            .send(Bulk::Frame(frame(message.to_string().as_bytes())))
            .await;
    }

    /// Waits until every notification sent so far is written to the client.
    pub async fn written(&self) {
        let (done, wait) = oneshot::channel();
        if self.frames.send(Bulk::Barrier(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed
}

/// Reads the client's messages from `input`, passes the good ones to `to_server`, and answers the bad
/// ones through `answers`. Ends (closing `to_server`) at the end of `input`.
pub async fn filter_input<R, W>(
    input: R,
    mut to_server: W,
    answers: mpsc::Sender<Vec<u8>>,
    stopping: CancellationToken,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(input);
    loop {
        let next = match read_frame(&mut reader).await {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, "reading the client's input failed");
                break;
            }
        };
        match next {
            Frame::End => break,
            Frame::BadHeader(reason) => {
                tracing::warn!(%reason, "a malformed message from the client");
                let answer = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("Parse error: {reason}")}});
                let _ = answers.send(frame(answer.to_string().as_bytes())).await;
            }
            Frame::Body(body) => match check_message(&body) {
                Ok(message) if stopping.is_cancelled() => {
                    // The server is going away: nothing new is started; a request learns why.
                    if let Some(id) = message
                        .get("id")
                        .filter(|_| message.get("method").is_some())
                    {
                        let answer = json!({"jsonrpc": "2.0", "id": id, "error": {"code": SHUTTING_DOWN, "message": "the server is shutting down"}});
                        let _ = answers.send(frame(answer.to_string().as_bytes())).await;
                    }
                }
                Ok(message) => {
                    let body = normalized(message).unwrap_or(body);
                    if to_server.write_all(&frame(&body)).await.is_err()
                        || to_server.flush().await.is_err()
                    {
                        break;
                    }
                }
                Err((code, message, id)) => {
                    tracing::warn!(%message, "a malformed message from the client");
                    let answer = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
                    let _ = answers.send(frame(answer.to_string().as_bytes())).await;
                }
            },
        }
    }
    let _ = to_server.shutdown().await;
}

/// Reads the server's output frame by frame into `frames`, the channel the filter's answers also go
/// to, so that whole frames from both reach stdout in turn.
pub async fn frames_from_server<R: AsyncRead + Unpin>(
    from_server: R,
    frames: mpsc::Sender<Vec<u8>>,
) {
    let mut reader = BufReader::new(from_server);
    loop {
        match read_frame(&mut reader).await {
            Ok(Frame::Body(body)) => {
                if frames.send(frame(&body)).await.is_err() {
                    return;
                }
            }
            Ok(Frame::BadHeader(reason)) => {
                tracing::error!(%reason, "the server wrote a malformed frame");
            }
            Ok(Frame::End) | Err(_) => return,
        }
    }
}

/// Writes whole frames to `output` until every sender is gone: the server's own frames (responses,
/// requests to the client, answers to bad frames) first, our notifications in between. A request's
/// answer thus never waits behind a flood of terminal output.
pub async fn write_frames<W: AsyncWrite + Unpin>(
    mut urgent: mpsc::Receiver<Vec<u8>>,
    mut bulk: mpsc::Receiver<Bulk>,
    mut output: W,
) {
    let mut urgent_open = true;
    let mut bulk_open = true;
    while urgent_open || bulk_open {
        let bytes = tokio::select! {
            biased;
            frame = urgent.recv(), if urgent_open => match frame {
                Some(bytes) => bytes,
                None => {
                    urgent_open = false;
                    continue;
                }
            },
            item = bulk.recv(), if bulk_open => match item {
                Some(Bulk::Frame(bytes)) => bytes,
                Some(Bulk::Barrier(done)) => {
                    let _ = done.send(());
                    continue;
                }
                None => {
                    bulk_open = false;
                    continue;
                }
            },
        };
        if output.write_all(&bytes).await.is_err() || output.flush().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_checked_as_tower_lsp_would_need_them() {
        assert!(
            check_message(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).is_ok()
        );
        assert!(check_message(br#"{"jsonrpc":"2.0","method":"initialized"}"#).is_ok());
        assert!(check_message(br#"{"jsonrpc":"2.0","id":"a","result":null}"#).is_ok());
        assert!(
            check_message(br#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"x"}}"#).is_ok()
        );
        let code = |body: &[u8]| check_message(body).expect_err("refused").0;
        assert_eq!(code(br#"{"jsonrpc": "2.0", "id": 99, "method": "#), -32700);
        assert_eq!(code(b"[1, 2]"), -32600);
        assert_eq!(code(br#"{"id":1,"method":"x"}"#), -32600);
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#),
            -32600
        );
        assert_eq!(code(br#"{"jsonrpc":"2.0","id":1,"method":7}"#), -32600);
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":5}"#),
            -32600
        );
        assert_eq!(code(br#"{"jsonrpc":"2.0","id":1}"#), -32600);
        let (_, _, id) =
            check_message(br#"{"jsonrpc":"1.0","id":5,"method":"x"}"#).expect_err("refused");
        assert_eq!(id, json!(5));
    }

    /// What `filter_input` passes on of `input`, and its answers.
    async fn filtered(input: &[u8]) -> (Vec<u8>, Vec<String>) {
        let (server_end, mut server_reads) = tokio::io::duplex(1 << 16);
        let (answers, mut answered) = mpsc::channel(8);
        filter_input(input, server_end, answers, CancellationToken::new()).await;
        let mut passed = Vec::new();
        server_reads.read_to_end(&mut passed).await.expect("read");
        let mut texts = Vec::new();
        while let Ok(answer) = answered.try_recv() {
            texts.push(String::from_utf8_lossy(&answer).into_owned());
        }
        (passed, texts)
    }

    #[tokio::test]
    async fn bad_frames_are_answered_and_good_ones_pass_through() {
        let good = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let mut input = Vec::new();
        input.extend_from_slice(b"Content-Length: 5\r\n\r\n{oops");
        input.extend_from_slice(b"Garbage-Header: x\r\n\r\n");
        input.extend_from_slice(&frame(good));
        let (passed, answers) = filtered(&input).await;
        assert_eq!(passed, frame(good));
        assert!(answers[0].contains("-32700"), "{answers:?}");
        assert!(answers[1].contains("no Content-Length"), "{answers:?}");
    }

    #[tokio::test]
    async fn a_header_line_without_end_is_not_kept_whole() {
        // 1 MiB of header with no line break, then a good frame: the long line is refused, the frame
        // after it passes.
        let good = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let mut input = vec![b'x'; 1 << 20];
        input.extend_from_slice(b"\r\n\r\n");
        input.extend_from_slice(&frame(good));
        let (passed, answers) = filtered(&input).await;
        assert_eq!(passed, frame(good));
        assert!(answers[0].contains("header line over"), "{answers:?}");
    }

    #[test]
    fn our_requests_without_params_get_empty_ones() {
        let normal = |text: &str| {
            normalized(serde_json::from_str(text).expect("json"))
                .map(|body| serde_json::from_slice::<Value>(&body).expect("json"))
        };
        assert_eq!(
            normal(r#"{"jsonrpc":"2.0","id":1,"method":"openbolt/sessions"}"#),
            Some(json!({"jsonrpc":"2.0","id":1,"method":"openbolt/sessions","params":{}}))
        );
        assert_eq!(
            normal(r#"{"jsonrpc":"2.0","id":1,"method":"openbolt/sessions","params":null}"#),
            None
        );
        assert_eq!(
            normal(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#),
            None
        );
        assert_eq!(normal(r#"{"jsonrpc":"2.0","method":"openbolt/x"}"#), None);
    }
}
