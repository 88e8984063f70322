//! One page check: the preview loaded in a fresh browser context, its events collected until it settles
//! (loaded, then no request in flight for [`QUIET`]) or the deadline, then whether anything is visible.
//!
//! [`Collector`] turns the DevTools events into problems and is pure (tested with the events as Chrome
//! sends them); [`check`] drives the browser.

use super::cdp::Cdp;
use super::sourcemap::{self, SourceMap};
use crate::types::{Capture, ImageFormat, PageProblem, PageProblemKind};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the network must be quiet after the load event for the page to have settled.
pub const QUIET: Duration = Duration::from_millis(500);

/// At most this many problems are kept (the first ones; repeats are counted).
const MAX_PROBLEMS: usize = 10;

/// At most this many frames are kept per problem.
const MAX_FRAMES: usize = 3;

/// A message is cut to this many bytes.
const MAX_MESSAGE: usize = 2000;

/// True when something is visible in `body`: text, or a sized image, canvas, video, frame or control.
const VISIBLE: &str = r#"(() => {
  const body = document.body;
  if (!body) return false;
  if ((body.innerText || '').trim().length > 0) return true;
  for (const element of body.querySelectorAll('img,svg,canvas,video,iframe,object,embed,input,button,select,textarea')) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.height > 0) return true;
  }
  return false;
})()"#;

/// A stack frame as the browser reports it (0-based line and column), mapped and shown at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Frame {
    function: String,
    url: String,
    line: Option<u32>,
    column: Option<u32>,
}

/// A problem while the page runs: its frames not yet mapped.
#[derive(Debug)]
struct Found {
    kind: PageProblemKind,
    message: String,
    frames: Vec<Frame>,
    count: u32,
}

/// The source maps of the page's scripts, by script URL.
pub type Maps = HashMap<String, SourceMap>;

/// Where the page's files live: the workspace (paths are shown relative to it), and the directory the
/// dev server serves from, when it is not the workspace (`cd app && python3 -m http.server`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Roots<'a> {
    pub workspace: Option<&'a Path>,
    pub served: Option<&'a Path>,
}

impl Roots<'_> {
    /// A URL's path (`/main.js`) as a file of the workspace (`app/main.js`) when the dev server serves
    /// a directory beneath it and the file is there, not at the workspace's top.
    fn file(&self, url_path: &str) -> String {
        let relative = url_path.trim_start_matches('/');
        if let (Some(workspace), Some(served)) = (self.workspace, self.served)
            && let Ok(base) = served.strip_prefix(workspace)
            && !base.as_os_str().is_empty()
            && !workspace.join(relative).exists()
            && served.join(relative).exists()
        {
            return base.join(relative).display().to_string();
        }
        relative.to_owned()
    }
}

/// What a page did, from its events.
#[derive(Debug)]
pub struct Collector {
    origin: String,
    found: Vec<Found>,
    /// Requests in flight (id → method and URL), and the URLs of those that ended.
    in_flight: HashMap<String, (String, String)>,
    reported: HashSet<String>,
    pub loaded: bool,
    last_activity: Instant,
}

impl Collector {
    pub fn new(url: &str, now: Instant) -> Collector {
        Collector {
            origin: origin(url).unwrap_or_default(),
            found: Vec::new(),
            in_flight: HashMap::new(),
            reported: HashSet::new(),
            loaded: false,
            last_activity: now,
        }
    }

    /// The page has loaded and no request was in flight for [`QUIET`].
    pub fn settled(&self, now: Instant) -> bool {
        self.loaded && self.in_flight.is_empty() && now >= self.last_activity + QUIET
    }

    /// When [`Collector::settled`] may next become true.
    pub fn quiet_at(&self) -> Instant {
        self.last_activity + QUIET
    }

    pub fn event(&mut self, method: &str, params: &Value, now: Instant) {
        match method {
            "Page.loadEventFired" => {
                self.loaded = true;
                self.last_activity = now;
            }
            "Network.requestWillBeSent" => {
                let id = text(params, "requestId");
                let request = &params["request"];
                self.in_flight.insert(
                    id.to_owned(),
                    (
                        text(request, "method").to_owned(),
                        text(request, "url").to_owned(),
                    ),
                );
                self.last_activity = now;
            }
            "Network.responseReceived" => {
                let id = text(params, "requestId");
                let response = &params["response"];
                let status = response["status"].as_u64().unwrap_or(0);
                let url = text(response, "url");
                if status >= 400 && self.counts(url) {
                    let method = self
                        .in_flight
                        .get(id)
                        .map_or("GET", |(method, _)| method.as_str())
                        .to_owned();
                    let status_text = text(response, "statusText");
                    self.reported.insert(id.to_owned());
                    self.add(
                        PageProblemKind::Request,
                        format!(
                            "{method} {}: {status}{}{status_text}",
                            self.shown(url),
                            if status_text.is_empty() { "" } else { " " }
                        ),
                        Vec::new(),
                    );
                }
                self.last_activity = now;
            }
            "Network.loadingFinished" => {
                self.in_flight.remove(text(params, "requestId"));
                self.last_activity = now;
            }
            "Network.loadingFailed" => {
                let id = text(params, "requestId");
                let request = self.in_flight.remove(id);
                let error = text(params, "errorText");
                let canceled = params["canceled"].as_bool().unwrap_or(false);
                if let Some((method, url)) = request
                    && !canceled
                    && !self.reported.contains(id)
                    && error != "net::ERR_ABORTED"
                    && self.counts(&url)
                {
                    self.add(
                        PageProblemKind::Request,
                        format!("{method} {}: {error}", self.shown(&url)),
                        Vec::new(),
                    );
                }
                self.last_activity = now;
            }
            "Runtime.exceptionThrown" => {
                let details = &params["exceptionDetails"];
                let exception = &details["exception"];
                let described = exception["description"]
                    .as_str()
                    .map(first_paragraph)
                    .or_else(|| exception.get("value").map(value_text))
                    .unwrap_or_else(|| text(details, "text").to_owned());
                let header = text(details, "text");
                let kind = if header.contains("(in promise)") {
                    PageProblemKind::Rejection
                } else {
                    PageProblemKind::Exception
                };
                let mut frames = self.frames(&details["stackTrace"]);
                if frames.is_empty() && !text(details, "url").is_empty() {
                    frames.push(frame(
                        "",
                        text(details, "url"),
                        &details["lineNumber"],
                        &details["columnNumber"],
                    ));
                }
                self.add(kind, described, frames);
            }
            "Runtime.consoleAPICalled" if text(params, "type") == "error" => {
                let message = params["args"]
                    .as_array()
                    .map(|args| args.iter().map(remote_text).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                let frames = self.frames(&params["stackTrace"]);
                self.add(PageProblemKind::Console, message, frames);
            }
            "Log.entryAdded" => {
                let entry = &params["entry"];
                // Network errors are the requests' own problems; violations and interventions are advice.
                if text(entry, "level") == "error"
                    && !matches!(
                        text(entry, "source"),
                        "network" | "violation" | "intervention" | "recommendation"
                    )
                {
                    let mut frames = self.frames(&entry["stackTrace"]);
                    if frames.is_empty() && self.counts(text(entry, "url")) {
                        frames.push(frame(
                            "",
                            text(entry, "url"),
                            &entry["lineNumber"],
                            &Value::Null,
                        ));
                    }
                    self.add(
                        PageProblemKind::Console,
                        text(entry, "text").to_owned(),
                        frames,
                    );
                }
            }
            _ => {}
        }
    }

    /// Nothing was visible once the page settled.
    pub fn blank(&mut self) {
        self.add(
            PageProblemKind::Blank,
            "nothing is visible in its <body> once it has loaded (no text, no sized image, canvas or control)"
                .to_owned(),
            Vec::new(),
        );
    }

    fn add(&mut self, kind: PageProblemKind, message: String, frames: Vec<Frame>) {
        let mut message = message.trim().to_owned();
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        if let Some(same) = self
            .found
            .iter_mut()
            .find(|problem| problem.kind == kind && problem.message == message)
        {
            same.count += 1;
            return;
        }
        if self.found.len() < MAX_PROBLEMS {
            self.found.push(Found {
                kind,
                message,
                frames,
                count: 1,
            });
        }
    }

    /// The same-origin scripts the problems' frames are in: their source maps are worth fetching.
    pub fn scripts(&self) -> Vec<String> {
        let mut urls: Vec<String> = self
            .found
            .iter()
            .flat_map(|problem| &problem.frames)
            .filter(|frame| self.counts(&frame.url))
            .map(|frame| frame.url.clone())
            .collect();
        urls.sort();
        urls.dedup();
        urls
    }

    /// The problems, each frame put back in its source where `maps` has the script's map; paths
    /// beneath `root` (the workspace) are shown relative to it.
    pub fn problems(&self, maps: &Maps, roots: Roots<'_>) -> Vec<PageProblem> {
        self.found
            .iter()
            .map(|problem| PageProblem {
                kind: problem.kind,
                message: problem.message.clone(),
                frames: problem
                    .frames
                    .iter()
                    .map(|frame| self.location(frame, maps, roots))
                    .collect(),
                count: problem.count,
            })
            .collect()
    }

    /// A request that is the app's own: same origin, and not the favicon the browser asks for itself.
    fn counts(&self, url: &str) -> bool {
        !self.origin.is_empty()
            && origin(url).as_deref() == Some(self.origin.as_str())
            && !url_path(url).ends_with("/favicon.ico")
    }

    /// A URL as the model reads it: the path of a same-origin one, without its query.
    fn shown(&self, url: &str) -> String {
        if origin(url).as_deref() == Some(self.origin.as_str()) {
            url_path(url).to_owned()
        } else {
            url.to_owned()
        }
    }

    /// The top frames of a stack trace, the app's own first.
    fn frames(&self, trace: &Value) -> Vec<Frame> {
        let Some(frames) = trace["callFrames"].as_array() else {
            return Vec::new();
        };
        let own = |frame: &&Value| {
            let url = text(frame, "url");
            !url.contains("/node_modules/") && !url.contains("/@vite/") && !url.contains("/.vite/")
        };
        let chosen: Vec<&Value> = if frames.iter().any(|frame| own(&frame)) {
            frames.iter().filter(own).collect()
        } else {
            frames.iter().collect()
        };
        chosen
            .into_iter()
            .filter(|frame| !text(frame, "url").is_empty())
            .take(MAX_FRAMES)
            .map(|called| {
                frame(
                    text(called, "functionName"),
                    text(called, "url"),
                    &called["lineNumber"],
                    &called["columnNumber"],
                )
            })
            .collect()
    }

    /// `function (path:line:column)`, 1-based: in the source the script's map names when there is one,
    /// else in the script as served.
    fn location(&self, frame: &Frame, maps: &Maps, roots: Roots<'_>) -> String {
        let mapped = maps.get(&frame.url).and_then(|map| {
            map.lookup(frame.line?, frame.column.unwrap_or(0))
                .map(|(source, line, column)| {
                    (source_path(source, &frame.url, roots), line, Some(column))
                })
        });
        let (path, line, column) = match mapped {
            Some((path, line, column)) => (path, Some(line), column),
            None if self.counts(&frame.url) => {
                (roots.file(url_path(&frame.url)), frame.line, frame.column)
            }
            None => (
                self.shown(&frame.url).trim_start_matches('/').to_owned(),
                frame.line,
                frame.column,
            ),
        };
        let mut place = path;
        if let Some(line) = line {
            place.push_str(&format!(":{}", line + 1));
            if let Some(column) = column {
                place.push_str(&format!(":{}", column + 1));
            }
        }
        if frame.function.is_empty() {
            place
        } else {
            format!("{} ({place})", frame.function)
        }
    }
}

fn frame(function: &str, url: &str, line: &Value, column: &Value) -> Frame {
    let number = |value: &Value| value.as_u64().and_then(|number| u32::try_from(number).ok());
    Frame {
        function: function.to_owned(),
        url: url.to_owned(),
        line: number(line),
        column: number(column),
    }
}

/// A source a map names, as the user knows it: relative to the workspace when it is a path beneath it,
/// else the URL path it resolves to from the script (`/src/App.tsx` → `src/App.tsx`), else as written.
fn source_path(source: &str, script: &str, roots: Roots<'_>) -> String {
    if let Some(root) = roots.workspace
        && let Ok(inside) = Path::new(source).strip_prefix(root)
    {
        return inside.display().to_string();
    }
    let source = source
        .strip_prefix("webpack://")
        .map(|rest| rest.split_once('/').map_or(rest, |(_, path)| path))
        .unwrap_or(source);
    match reqwest::Url::parse(script).and_then(|base| base.join(source)) {
        Ok(url) if url.scheme().starts_with("http") => roots.file(url.path()),
        _ => source.trim_start_matches("./").to_owned(),
    }
}

/// The source maps of `scripts` (fetched from the dev server, inline or beside each script), until
/// `deadline`; a script without one, or that fails to load, has none.
pub async fn fetch_maps(scripts: &[String], deadline: Instant) -> Maps {
    let mut maps = Maps::new();
    crate::install_crypto_provider();
    let Ok(client) = reqwest::Client::builder().no_proxy().build() else {
        return maps;
    };
    let get = |url: String| {
        let client = client.clone();
        async move {
            let response = client.get(&url).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.text().await.ok()
        }
    };
    for script in scripts {
        let found = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), async {
            let text = get(script.clone()).await?;
            let url = sourcemap::url_in(&text)?.to_owned();
            let json = match sourcemap::inline(&url) {
                Some(json) => json,
                None => {
                    let beside = reqwest::Url::parse(script).ok()?.join(&url).ok()?;
                    get(beside.to_string()).await?
                }
            };
            SourceMap::parse(&json)
        })
        .await;
        if let Ok(Some(map)) = found {
            maps.insert(script.clone(), map);
        }
    }
    maps
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// An exception's description without its stack (the frames are given apart).
fn first_paragraph(description: &str) -> String {
    description
        .lines()
        .take_while(|line| !line.trim_start().starts_with("at "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A console argument as text: its value, else its description (an Error's is its message and stack).
fn remote_text(argument: &Value) -> String {
    if let Some(value) = argument.get("value") {
        return value_text(value);
    }
    argument["description"]
        .as_str()
        .map(first_paragraph)
        .or_else(|| argument["unserializableValue"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text(argument, "type").to_owned())
}

/// `scheme://host:port` of an http(s) URL.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    Some(format!("{scheme}://{authority}"))
}

/// The path of a URL, without its query and fragment.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("/", |at| &rest[at..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

/// What a check learned: the problems, and whether the page settled.
#[derive(Debug)]
pub struct Verdict {
    pub problems: Vec<PageProblem>,
    pub settled: bool,
    /// The page as it looked when it was judged, if one was asked for and could be taken.
    pub capture: Option<crate::types::Capture>,
}

/// How long taking a screenshot may take (past the check's own bound: the picture of a page that never
/// settled is the most telling one).
const CAPTURE_BOUND: Duration = Duration::from_secs(3);

/// Loads `url` in a fresh context of the browser behind `cdp` and collects its problems until it
/// settles or `deadline`; the context is disposed of after. Frames are shown as files of the
/// workspace (`roots`).
pub async fn check(
    cdp: &Cdp,
    url: &str,
    roots: Roots<'_>,
    deadline: Instant,
    screenshot: Option<ImageFormat>,
) -> Result<Verdict, String> {
    let context = cdp
        .call(
            None,
            "Target.createBrowserContext",
            json!({"disposeOnDetach": true}),
        )
        .await?;
    let context = text(&context, "browserContextId").to_owned();
    let result = in_context(cdp, &context, url, roots, deadline, screenshot).await;
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        cdp.call(
            None,
            "Target.disposeBrowserContext",
            json!({"browserContextId": context}),
        ),
    )
    .await;
    result
}

async fn in_context(
    cdp: &Cdp,
    context: &str,
    url: &str,
    roots: Roots<'_>,
    deadline: Instant,
    screenshot: Option<ImageFormat>,
) -> Result<Verdict, String> {
    let target = cdp
        .call(
            None,
            "Target.createTarget",
            json!({"url": "about:blank", "browserContextId": context}),
        )
        .await?;
    let attached = cdp
        .call(
            None,
            "Target.attachToTarget",
            json!({"targetId": text(&target, "targetId"), "flatten": true}),
        )
        .await?;
    let session = text(&attached, "sessionId").to_owned();
    let mut events = cdp.listen(&session);
    let result = async {
        let session = Some(session.as_str());
        for domain in [
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
            "Page.enable",
        ] {
            cdp.call(session, domain, json!({})).await?;
        }
        // The page is the dev server's as it is now, not a cached copy.
        cdp.call(
            session,
            "Network.setCacheDisabled",
            json!({"cacheDisabled": true}),
        )
        .await?;
        let mut collector = Collector::new(url, Instant::now());
        let navigated = cdp
            .call(session, "Page.navigate", json!({"url": url}))
            .await?;
        let failed = text(&navigated, "errorText");
        if !failed.is_empty() {
            collector.add(
                PageProblemKind::Request,
                format!("GET {url}: {failed}"),
                Vec::new(),
            );
            return Ok((collector, true, None));
        }
        loop {
            let now = Instant::now();
            if collector.settled(now) {
                break;
            }
            if now >= deadline {
                return Ok((collector, false, capture(cdp, session, screenshot).await));
            }
            let wake = if collector.loaded && collector.in_flight.is_empty() {
                collector.quiet_at().min(deadline)
            } else {
                deadline
            };
            let received =
                tokio::time::timeout_at(tokio::time::Instant::from_std(wake), events.recv()).await;
            match received {
                Ok(Some((method, params))) => collector.event(&method, &params, Instant::now()),
                Ok(None) => return Err("the browser has exited".to_owned()),
                Err(_) => {}
            }
        }
        let visible = cdp
            .call(
                session,
                "Runtime.evaluate",
                json!({"expression": VISIBLE, "returnByValue": true}),
            )
            .await?;
        // Events that came with the last answers (an error logged while the page settled).
        while let Ok((method, params)) = events.try_recv() {
            collector.event(&method, &params, Instant::now());
        }
        if visible["result"]["value"] == Value::Bool(false) {
            collector.blank();
        }
        Ok((collector, true, capture(cdp, session, screenshot).await))
    }
    .await;
    cdp.forget(&session);
    let (collector, settled, capture) = result?;
    // Frames in code the dev server transformed go back to the files the user wrote.
    let maps = fetch_maps(&collector.scripts(), deadline).await;
    Ok(Verdict {
        problems: collector.problems(&maps, roots),
        settled,
        capture,
    })
}

/// A screenshot of the viewport as it is now, in `format`; `None` when none is asked for, or (logged)
/// when the browser cannot take one in time.
async fn capture(cdp: &Cdp, session: Option<&str>, format: Option<ImageFormat>) -> Option<Capture> {
    use base64::Engine as _;
    let format = format?;
    let started = Instant::now();
    let parameters = match format {
        ImageFormat::Png => json!({"format": "png"}),
        ImageFormat::Jpeg(quality) => json!({"format": "jpeg", "quality": quality}),
    };
    let taken = tokio::time::timeout(CAPTURE_BOUND, async {
        let metrics = cdp
            .call(session, "Page.getLayoutMetrics", json!({}))
            .await?;
        let shot = cdp
            .call(session, "Page.captureScreenshot", parameters)
            .await?;
        Ok::<_, String>((metrics, shot))
    })
    .await;
    let (metrics, shot) = match taken {
        Ok(Ok(taken)) => taken,
        Ok(Err(error)) => {
            tracing::warn!(%error, "the page's screenshot could not be taken");
            return None;
        }
        Err(_) => {
            tracing::warn!("the page's screenshot took too long");
            return None;
        }
    };
    let data = base64::engine::general_purpose::STANDARD
        .decode(text(&shot, "data"))
        .ok()?;
    let viewport = &metrics["cssLayoutViewport"];
    let size = |key: &str| {
        viewport[key]
            .as_u64()
            .and_then(|size| u32::try_from(size).ok())
    };
    Some(Capture {
        data,
        format,
        width: size("clientWidth").unwrap_or(0),
        height: size("clientHeight").unwrap_or(0),
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "http://127.0.0.1:5173/";

    fn collect(events: &[(&str, Value)]) -> Collector {
        let start = Instant::now();
        let mut collector = Collector::new(PAGE, start);
        for (method, params) in events {
            collector.event(method, params, start);
        }
        collector
    }

    #[test]
    fn an_uncaught_exception_keeps_its_message_and_the_apps_frames() {
        let collector = collect(&[(
            "Runtime.exceptionThrown",
            json!({"timestamp": 1.0, "exceptionDetails": {
                "exceptionId": 1, "text": "Uncaught", "lineNumber": 2, "columnNumber": 20,
                "url": "http://127.0.0.1:5173/src/main.js",
                "stackTrace": {"callFrames": [
                    {"functionName": "dispatch", "url": "http://127.0.0.1:5173/node_modules/.vite/deps/react.js", "lineNumber": 9, "columnNumber": 1},
                    {"functionName": "render", "url": "http://127.0.0.1:5173/src/main.js?t=123", "lineNumber": 2, "columnNumber": 20},
                    {"functionName": "", "url": "http://127.0.0.1:5173/src/main.js", "lineNumber": 7, "columnNumber": 0}
                ]},
                "exception": {"type": "object", "subtype": "error", "className": "TypeError",
                    "description": "TypeError: Cannot read properties of undefined (reading 'name')\n    at render (http://127.0.0.1:5173/src/main.js:3:21)"}
            }}),
        )]);
        assert_eq!(
            collector.problems(&Maps::new(), Roots::default()),
            vec![PageProblem {
                kind: PageProblemKind::Exception,
                message: "TypeError: Cannot read properties of undefined (reading 'name')"
                    .to_owned(),
                frames: vec![
                    "render (src/main.js:3:21)".to_owned(),
                    "src/main.js:8:1".to_owned()
                ],
                count: 1,
            }]
        );
    }

    #[test]
    fn a_rejection_a_console_error_and_a_missing_module_are_told_apart() {
        let collector = collect(&[
            (
                "Runtime.exceptionThrown",
                json!({"exceptionDetails": {"text": "Uncaught (in promise)", "exception": {"type": "string", "value": "no data"}}}),
            ),
            (
                "Runtime.consoleAPICalled",
                json!({"type": "error", "args": [{"type": "string", "value": "failed to render"}, {"type": "number", "value": 3}],
                       "stackTrace": {"callFrames": [{"functionName": "show", "url": "http://127.0.0.1:5173/app.js", "lineNumber": 4, "columnNumber": 2}]}}),
            ),
            (
                "Runtime.consoleAPICalled",
                json!({"type": "log", "args": [{"type": "string", "value": "fine"}]}),
            ),
            (
                "Network.requestWillBeSent",
                json!({"requestId": "7", "request": {"method": "GET", "url": "http://127.0.0.1:5173/missing.js"}}),
            ),
            (
                "Network.responseReceived",
                json!({"requestId": "7", "response": {"url": "http://127.0.0.1:5173/missing.js", "status": 404, "statusText": "Not Found"}}),
            ),
            ("Network.loadingFinished", json!({"requestId": "7"})),
            (
                "Log.entryAdded",
                json!({"entry": {"source": "network", "level": "error", "text": "Failed to load resource: 404"}}),
            ),
        ]);
        let problems = collector.problems(&Maps::new(), Roots::default());
        let shown: Vec<(PageProblemKind, &str, Vec<String>)> = problems
            .iter()
            .map(|problem| {
                (
                    problem.kind,
                    problem.message.as_str(),
                    problem.frames.clone(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                (PageProblemKind::Rejection, "no data", vec![]),
                (
                    PageProblemKind::Console,
                    "failed to render 3",
                    vec!["show (app.js:5:3)".to_owned()]
                ),
                (
                    PageProblemKind::Request,
                    "GET /missing.js: 404 Not Found",
                    vec![]
                ),
            ]
        );
        assert!(collector.in_flight.is_empty());
    }

    #[test]
    fn other_origins_the_favicon_and_cancelled_requests_are_not_the_apps_problems() {
        let collector = collect(&[
            (
                "Network.requestWillBeSent",
                json!({"requestId": "1", "request": {"method": "GET", "url": "https://fonts.example.com/a.css"}}),
            ),
            (
                "Network.responseReceived",
                json!({"requestId": "1", "response": {"url": "https://fonts.example.com/a.css", "status": 500}}),
            ),
            (
                "Network.requestWillBeSent",
                json!({"requestId": "2", "request": {"method": "GET", "url": "http://127.0.0.1:5173/favicon.ico"}}),
            ),
            (
                "Network.responseReceived",
                json!({"requestId": "2", "response": {"url": "http://127.0.0.1:5173/favicon.ico", "status": 404}}),
            ),
            (
                "Network.requestWillBeSent",
                json!({"requestId": "3", "request": {"method": "GET", "url": "http://127.0.0.1:5173/api"}}),
            ),
            (
                "Network.loadingFailed",
                json!({"requestId": "3", "errorText": "net::ERR_ABORTED", "canceled": true}),
            ),
            (
                "Network.requestWillBeSent",
                json!({"requestId": "4", "request": {"method": "POST", "url": "http://127.0.0.1:5173/api/save"}}),
            ),
            (
                "Network.loadingFailed",
                json!({"requestId": "4", "errorText": "net::ERR_CONNECTION_RESET"}),
            ),
        ]);
        let problems = collector.problems(&Maps::new(), Roots::default());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].message,
            "POST /api/save: net::ERR_CONNECTION_RESET"
        );
    }

    #[test]
    fn frames_in_transformed_code_go_back_to_the_source_the_map_names() {
        let collector = collect(&[(
            "Runtime.exceptionThrown",
            json!({"exceptionDetails": {"text": "Uncaught",
                "stackTrace": {"callFrames": [
                    {"functionName": "App", "url": "http://127.0.0.1:5173/src/App.tsx", "lineNumber": 2, "columnNumber": 14},
                    {"functionName": "", "url": "http://127.0.0.1:5173/src/main.tsx", "lineNumber": 0, "columnNumber": 0}
                ]},
                "exception": {"description": "TypeError: user is undefined"}}}),
        )]);
        assert_eq!(
            collector.scripts(),
            [
                "http://127.0.0.1:5173/src/App.tsx",
                "http://127.0.0.1:5173/src/main.tsx"
            ]
        );
        // Generated line 2 (0-based), from column 10 on: App.tsx line 9, column 4.
        let app = SourceMap::parse(
            r#"{"version":3,"sources":["/home/ada/ledger/src/App.tsx"],"mappings":"AAAA;;UASI"}"#,
        )
        .expect("a map");
        let main = SourceMap::parse(r#"{"version":3,"sources":["main.tsx"],"mappings":"AAAA"}"#)
            .expect("a map");
        let maps: Maps = [
            ("http://127.0.0.1:5173/src/App.tsx".to_owned(), app),
            ("http://127.0.0.1:5173/src/main.tsx".to_owned(), main),
        ]
        .into_iter()
        .collect();
        let roots = Roots {
            workspace: Some(Path::new("/home/ada/ledger")),
            served: None,
        };
        let problems = collector.problems(&maps, roots);
        assert_eq!(
            problems[0].frames,
            ["App (src/App.tsx:10:5)", "src/main.tsx:1:1"]
        );
    }

    #[test]
    fn a_dev_server_serving_a_folder_of_the_workspace_has_its_frames_in_that_folder() {
        let workspace = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(workspace.path().join("app")).expect("mkdir");
        std::fs::write(workspace.path().join("app/main.js"), "").expect("write");
        std::fs::write(workspace.path().join("top.js"), "").expect("write");
        let served = workspace.path().join("app");
        let roots = Roots {
            workspace: Some(workspace.path()),
            served: Some(&served),
        };
        assert_eq!(roots.file("/main.js"), "app/main.js");
        assert_eq!(roots.file("/missing.js"), "missing.js");
        let at_top = Roots {
            workspace: Some(workspace.path()),
            served: Some(workspace.path()),
        };
        assert_eq!(at_top.file("/top.js"), "top.js");
    }

    #[test]
    fn repeats_are_counted_and_the_page_settles_after_quiet() {
        let start = Instant::now();
        let mut collector = Collector::new(PAGE, start);
        let error = json!({"type": "error", "args": [{"type": "string", "value": "tick failed"}]});
        for _ in 0..3 {
            collector.event("Runtime.consoleAPICalled", &error, start);
        }
        let problems = collector.problems(&Maps::new(), Roots::default());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].count, 3);
        collector.event(
            "Network.requestWillBeSent",
            &json!({"requestId": "1", "request": {"method": "GET", "url": PAGE}}),
            start,
        );
        collector.event("Page.loadEventFired", &json!({}), start);
        assert!(
            !collector.settled(start + QUIET * 4),
            "a request is in flight"
        );
        collector.event("Network.loadingFinished", &json!({"requestId": "1"}), start);
        assert!(!collector.settled(start + QUIET / 2));
        assert!(collector.settled(start + QUIET));
    }
}
