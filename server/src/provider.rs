//! Model providers: one streaming chat interface over Anthropic's Messages API, OpenAI's Chat Completions
//! (and every OpenAI-compatible server), and a replay of a recorded reply.
//!
//! The wire formats live in `anthropic.rs` and `openai.rs` as pure functions (request body, stream event →
//! [`StreamItem`]); this module owns HTTP, retries and timeouts, the same for both.

pub mod anthropic;
pub mod images;
pub mod openai;
pub mod replay;
pub mod sse;
pub mod window;

use crate::config::{ProviderKind, ProviderSettings};
use futures::StreamExt;
use sse::{SseDecoder, SseEvent};
use std::collections::VecDeque;
use std::time::Duration;

/// A conversation to continue.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    /// The stable system prompt (cached by Anthropic).
    pub system: String,
    pub messages: Vec<Message>,
    pub max_tokens: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// Pictures that go with the text (to models that take images; see [`images`]).
    pub images: Vec<Image>,
}

impl Message {
    /// A message of text alone.
    pub fn text(role: Role, content: String) -> Message {
        Message {
            role,
            content,
            images: Vec::new(),
        }
    }

    /// The message without its pictures: each becomes its one-line note at the end of the text.
    pub fn without_images(&self) -> Message {
        let mut content = self.content.clone();
        for image in &self.images {
            if !content.ends_with('\n') && !content.is_empty() {
                content.push('\n');
            }
            content.push_str(&image.note);
            content.push('\n');
        }
        Message::text(self.role, content)
    }
}

/// A picture in a message: a screenshot of a checked page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// `image/jpeg` or `image/png`.
    pub media_type: String,
    /// The encoded image, in base64 (shared: history and requests hold the same bytes).
    pub data: std::sync::Arc<str>,
    pub width: u32,
    pub height: u32,
    /// What the model reads instead where the picture is not sent.
    pub note: String,
}

impl Image {
    /// About how many input tokens the picture costs: Anthropic's (width × height / 750), which is the
    /// larger of the two formats' for a screen-sized picture.
    pub fn tokens(&self) -> usize {
        (self.width as usize * self.height as usize / 750).max(85)
    }

    /// A `data:` URL of the picture (OpenAI's `image_url`).
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.media_type, self.data)
    }
}

pub use crate::types::Usage;

/// Why the model stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// It finished its reply.
    EndTurn,
    /// It hit the output limit: the reply continues in a follow-up request.
    MaxTokens,
    Other(String),
}

/// What a provider stream yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamItem {
    Text(String),
    /// Usage of this request so far (replaces, not adds to, earlier usage of the same request).
    Usage(Usage),
    /// The stream is complete.
    Stop(StopReason),
}

/// Everything that can go wrong talking to a provider. Messages never contain the API key.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("authentication failed (HTTP {status}): {message}; check {variable}")]
    Auth {
        status: u16,
        message: String,
        variable: &'static str,
    },
    #[error("the provider rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the provider is unavailable (HTTP {status}): {message}")]
    Unavailable {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("cannot reach the provider at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the provider reported an error: {message}")]
    Stream { message: String, transient: bool },
    #[error("the connection dropped mid-reply: {0}")]
    Dropped(String),
    #[error("no data from the provider for {0} s: the stream stalled")]
    Stalled(u64),
    #[error("the reply ended without {0}: it was cut off")]
    Truncated(&'static str),
    #[error("unexpected data from the provider: {0}")]
    Protocol(String),
    #[error("cannot read the recorded reply {path}: {message}")]
    Replay { path: String, message: String },
}

impl ProviderError {
    /// Whether trying again may succeed (when nothing has been shown yet).
    pub fn is_transient(&self) -> bool {
        match self {
            ProviderError::Unavailable { .. }
            | ProviderError::Connect { .. }
            | ProviderError::Dropped(_) => true,
            ProviderError::Stream { transient, .. } => *transient,
            _ => false,
        }
    }

    /// Whether the provider refused the prompt as longer than the model's context window (OpenAI's
    /// `context_length_exceeded`, Anthropic's "prompt is too long", llama.cpp's "exceeds the available
    /// context size", vLLM's "maximum context length").
    pub fn is_context_too_long(&self) -> bool {
        let message = match self {
            ProviderError::Rejected {
                status: 400 | 413,
                message,
            } => message,
            ProviderError::Stream { message, .. } => message,
            _ => return false,
        };
        let message = message.to_ascii_lowercase();
        [
            "context_length_exceeded",
            "prompt is too long",
            "maximum context length",
            "context length",
            "context size",
            "context window",
            "too many tokens",
        ]
        .iter()
        .any(|needle| message.contains(needle))
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// How often and how patiently to retry before the first token.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// How long a stream may stay silent before the turn fails, unless the settings say otherwise
/// (`idleTimeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A configured provider.
#[derive(Debug)]
pub struct Provider {
    settings: ProviderSettings,
    http: reqwest::Client,
    pub retry: RetryPolicy,
    pub idle_timeout: Duration,
}

impl Provider {
    pub fn new(settings: ProviderSettings) -> Result<Provider, ProviderError> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("openbolt/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ProviderError::Connect {
                url: settings.base_url.clone(),
                message: error.to_string(),
            })?;
        Ok(Provider {
            settings,
            http,
            retry: RetryPolicy::default(),
            idle_timeout: IDLE_TIMEOUT,
        })
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// The model's context window: `setting` if given, else what the server or the table says.
    pub async fn context_window(&self, setting: Option<u32>) -> window::ContextWindow {
        window::resolve(&self.settings, setting, &self.http).await
    }

    /// Opens a stream, retrying transient failures that happen before the first token; `on_notice`
    /// hears about each retry ("rate limited, retrying in 2 s").
    pub async fn open(
        &self,
        request: &ChatRequest,
        mut on_notice: impl FnMut(String),
    ) -> Result<ProviderStream, ProviderError> {
        let mut attempt = 1;
        loop {
            let error = match self.open_once(request).await {
                Ok(mut stream) => match stream.prime().await {
                    Ok(()) => return Ok(stream),
                    Err(error) => error,
                },
                Err(error) => error,
            };
            if !error.is_transient() || attempt >= self.retry.attempts {
                return Err(error);
            }
            let backoff = self.retry.first_delay * 2u32.saturating_pow(attempt - 1);
            let delay = error
                .retry_after()
                .unwrap_or(backoff)
                .min(self.retry.max_delay);
            let what = match &error {
                ProviderError::Unavailable { status: 429, .. } => "rate limited".to_owned(),
                ProviderError::Unavailable { status: 529, .. } => {
                    "the provider is overloaded".to_owned()
                }
                other => other.to_string(),
            };
            on_notice(format!(
                "{what}; retrying in {} (attempt {} of {})",
                format_delay(delay),
                attempt + 1,
                self.retry.attempts
            ));
            tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "provider retry");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn open_once(&self, request: &ChatRequest) -> Result<ProviderStream, ProviderError> {
        let settings = &self.settings;
        let (url, body) = match settings.kind {
            ProviderKind::Anthropic => (
                format!("{}/v1/messages", settings.base_url.trim_end_matches('/')),
                anthropic::request_body(&settings.model, request),
            ),
            ProviderKind::OpenAi => (
                format!(
                    "{}/chat/completions",
                    settings.base_url.trim_end_matches('/')
                ),
                openai::request_body(&settings.model, request),
            ),
            ProviderKind::Replay => {
                return replay::open(settings).await.map(|replay| ProviderStream {
                    source: Source::Replay(replay),
                    pending: VecDeque::new(),
                    failure: None,
                    idle_timeout: self.idle_timeout,
                });
            }
        };
        let mut builder = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream");
        match settings.kind {
            ProviderKind::Anthropic => {
                builder = builder.header("anthropic-version", "2023-06-01");
                if let Some(key) = &settings.api_key {
                    builder = builder.header("x-api-key", key.expose());
                }
            }
            _ => {
                if let Some(key) = &settings.api_key {
                    builder = builder.bearer_auth(key.expose());
                }
            }
        }
        let response = builder
            .body(body.to_string())
            .send()
            .await
            .map_err(|error| ProviderError::Connect {
                url: url.clone(),
                message: describe_reqwest_error(&error),
            })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<f64>().ok())
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                .map(Duration::from_secs_f64);
            let text = response.text().await.unwrap_or_default();
            return Err(status_error(settings.kind, status, &text, retry_after));
        }
        Ok(ProviderStream {
            source: Source::Http {
                kind: settings.kind,
                body: Box::pin(response.bytes_stream()),
                decoder: SseDecoder::new(),
                finish: None,
                done: false,
            },
            pending: VecDeque::new(),
            failure: None,
            idle_timeout: self.idle_timeout,
        })
    }
}

fn format_delay(delay: Duration) -> String {
    if delay >= Duration::from_secs(1) {
        format!("{} s", delay.as_secs_f64().round())
    } else {
        format!("{} ms", delay.as_millis())
    }
}

/// reqwest's message plus its causes ("connection refused" is in a cause).
fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Maps an HTTP error status to an error, with the provider's own message when it sent one.
fn status_error(
    kind: ProviderKind,
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
) -> ProviderError {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            json.pointer("/error/message")
                .or_else(|| json.get("error").filter(|error| error.is_string()))
                .or_else(|| json.get("message"))
                .and_then(|message| message.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| {
            let trimmed = body.trim();
            if trimmed.is_empty() {
                "no details".to_owned()
            } else {
                trimmed.chars().take(300).collect()
            }
        });
    match status {
        401 | 403 => ProviderError::Auth {
            status,
            message,
            variable: match kind {
                ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
                _ => "OPENAI_API_KEY",
            },
        },
        408 | 409 | 425 | 429 | 500..=599 => ProviderError::Unavailable {
            status,
            message,
            retry_after,
        },
        _ => ProviderError::Rejected { status, message },
    }
}

/// A reply streaming in.
pub struct ProviderStream {
    source: Source,
    pending: VecDeque<StreamItem>,
    /// An error decoded after the items in `pending`: it is delivered once they have been.
    failure: Option<ProviderError>,
    idle_timeout: Duration,
}

impl std::fmt::Debug for ProviderStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ProviderStream")
            .finish_non_exhaustive()
    }
}

enum Source {
    Http {
        kind: ProviderKind,
        body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
        decoder: SseDecoder,
        /// The stop reason, held until the stream's end marker (`message_stop`, `[DONE]`).
        finish: Option<StopReason>,
        done: bool,
    },
    Replay(replay::Replay),
}

impl ProviderStream {
    /// The next item; `None` after [`StreamItem::Stop`].
    pub async fn next(&mut self) -> Option<Result<StreamItem, ProviderError>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if let Some(error) = self.failure.take() {
                return Some(Err(error));
            }
            match &mut self.source {
                Source::Replay(replay) => return replay.next().await.map(Ok),
                Source::Http {
                    kind,
                    body,
                    decoder,
                    finish,
                    done,
                } => {
                    if *done {
                        return None;
                    }
                    let chunk = match tokio::time::timeout(self.idle_timeout, body.next()).await {
                        Err(_) => {
                            *done = true;
                            return Some(Err(ProviderError::Stalled(self.idle_timeout.as_secs())));
                        }
                        Ok(None) => {
                            *done = true;
                            return Some(Err(ProviderError::Truncated(match kind {
                                ProviderKind::Anthropic => "message_stop",
                                _ => "[DONE]",
                            })));
                        }
                        Ok(Some(Err(error))) => {
                            *done = true;
                            return Some(Err(ProviderError::Dropped(describe_reqwest_error(
                                &error,
                            ))));
                        }
                        Ok(Some(Ok(chunk))) => chunk,
                    };
                    let mut failure = None;
                    let kind = *kind;
                    let pending = &mut self.pending;
                    decoder.feed(&chunk, |event: &SseEvent| {
                        if failure.is_some() {
                            return;
                        }
                        let result = match kind {
                            ProviderKind::Anthropic => anthropic::map_event(event, finish, pending),
                            _ => openai::map_event(event, finish, pending),
                        };
                        if let Err(error) = result {
                            failure = Some(error);
                        }
                    });
                    if let Some(error) = failure {
                        // The items decoded before the error go first, in the stream's order.
                        *done = true;
                        self.failure = Some(error);
                        continue;
                    }
                    if self
                        .pending
                        .iter()
                        .any(|item| matches!(item, StreamItem::Stop(_)))
                    {
                        *done = true;
                        // Anything after the stop marker is ignored.
                        if let Some(stop) = self
                            .pending
                            .iter()
                            .position(|item| matches!(item, StreamItem::Stop(_)))
                        {
                            self.pending.truncate(stop + 1);
                        }
                    }
                }
            }
        }
    }

    /// Waits for the first text (or the end), so that a failure before any token can be retried.
    /// What was read stays queued for [`ProviderStream::next`].
    async fn prime(&mut self) -> Result<(), ProviderError> {
        let mut primed = VecDeque::new();
        loop {
            match self.next().await {
                None => break,
                Some(Err(error)) => return Err(error),
                Some(Ok(item)) => {
                    let decisive = matches!(item, StreamItem::Text(_) | StreamItem::Stop(_));
                    primed.push_back(item);
                    if decisive {
                        break;
                    }
                }
            }
        }
        primed.append(&mut self.pending);
        self.pending = primed;
        Ok(())
    }
}
