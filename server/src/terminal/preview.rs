//! Finding a dev server's URL: from what it prints (`Local: http://localhost:5173/`), or from a new
//! listening TCP port owned by one of its processes (`/proc/net/tcp*` and `/proc/<pid>/fd`); then
//! probing it until it answers (`watch`).

use super::{ExitInfo, Preview, TerminalEvent, TerminalId, process};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Removes escape sequences (colours, cursor movement, titles) from terminal output, character by
/// character, across chunk boundaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EscapeFilter {
    #[default]
    Text,
    /// After ESC.
    Start,
    /// In a CSI sequence (`ESC [` … final byte).
    Csi,
    /// In an OSC sequence (`ESC ]` … BEL or `ESC \`).
    Osc,
    OscEscape,
}

impl EscapeFilter {
    /// The character if it is visible text (line ends included), `None` if it belongs to a sequence.
    pub fn filter(&mut self, character: char) -> Option<char> {
        let (next, visible) = match (*self, character) {
            (EscapeFilter::Text, '\u{1b}') => (EscapeFilter::Start, None),
            (EscapeFilter::Text, character) => (EscapeFilter::Text, Some(character)),
            (EscapeFilter::Start, '[') => (EscapeFilter::Csi, None),
            (EscapeFilter::Start, ']') => (EscapeFilter::Osc, None),
            (EscapeFilter::Start, _) => (EscapeFilter::Text, None),
            (EscapeFilter::Csi, '\u{40}'..='\u{7e}') => (EscapeFilter::Text, None),
            (EscapeFilter::Csi, _) => (EscapeFilter::Csi, None),
            (EscapeFilter::Osc, '\u{7}') => (EscapeFilter::Text, None),
            (EscapeFilter::Osc, '\u{1b}') => (EscapeFilter::OscEscape, None),
            (EscapeFilter::Osc, _) => (EscapeFilter::Osc, None),
            (EscapeFilter::OscEscape, _) => (EscapeFilter::Text, None),
        };
        *self = next;
        visible
    }
}

/// `text` without escape sequences, `\r\n` as `\n`: terminal output as a model or a log should see it.
pub fn plain_text(text: &str) -> String {
    let mut filter = EscapeFilter::default();
    text.chars()
        .filter_map(|character| filter.filter(character))
        .filter(|character| *character != '\r')
        .collect()
}

/// Reads terminal output as it comes and finds the first local URL in it. Escape sequences are
/// skipped, lines are assembled across chunks.
#[derive(Debug, Default)]
pub struct UrlScanner {
    line: String,
    escapes: EscapeFilter,
}

/// The longest line kept while waiting for its end.
const MAX_LINE: usize = 4096;

impl UrlScanner {
    /// Feeds output; returns the first local URL of a line completed by this chunk, with its port.
    pub fn feed(&mut self, text: &str) -> Option<(String, u16)> {
        let mut found = None;
        for character in text
            .chars()
            .filter_map(|character| self.escapes.filter(character))
        {
            if matches!(character, '\r' | '\n') {
                if found.is_none() {
                    found = find_local_url(&self.line);
                }
                self.line.clear();
            } else if self.line.len() < MAX_LINE && !character.is_control() {
                self.line.push(character);
            }
        }
        found
    }
}

/// The first `http(s)://host:port…` in `line` whose host is this machine. `0.0.0.0` and `[::]` (bound to
/// every interface) become `localhost`.
pub fn find_local_url(line: &str) -> Option<(String, u16)> {
    let mut rest = line;
    while let Some(start) = rest.find("http") {
        let candidate = &rest[start..];
        rest = &rest[start + 4..];
        let Some(after_scheme) = candidate
            .strip_prefix("http://")
            .or_else(|| candidate.strip_prefix("https://"))
        else {
            continue;
        };
        let scheme = &candidate[..candidate.len() - after_scheme.len()];
        let end = after_scheme
            .find(|character: char| character.is_whitespace() || "\"'<>)]`,".contains(character))
            .unwrap_or(after_scheme.len());
        // `[::1]:3000` holds `]` inside the host: take the bracketed part first.
        let (host, after_host) = if let Some(inner) = after_scheme.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                continue;
            };
            (&after_scheme[..close + 2], &after_scheme[close + 2..])
        } else {
            let host_end = after_scheme[..end].find([':', '/']).unwrap_or(end);
            (&after_scheme[..host_end], &after_scheme[host_end..])
        };
        let host = match host {
            "localhost" | "127.0.0.1" | "[::1]" => host,
            "0.0.0.0" | "[::]" => "localhost",
            _ => continue,
        };
        let Some(port_and_path) = after_host.strip_prefix(':') else {
            continue;
        };
        let digits = port_and_path
            .find(|character: char| !character.is_ascii_digit())
            .unwrap_or(port_and_path.len());
        let Ok(port) = port_and_path[..digits].parse::<u16>() else {
            continue;
        };
        if port == 0 {
            continue;
        }
        let path_end = port_and_path[digits..]
            .find(|character: char| character.is_whitespace() || "\"'<>)`,".contains(character))
            .map_or(port_and_path.len(), |end| digits + end);
        let path = &port_and_path[digits..path_end];
        let path = if path.is_empty() { "/" } else { path };
        return Some((format!("{scheme}{host}:{port}{path}"), port));
    }
    None
}

/// TCP ports in LISTEN state that one of `pids` holds a socket for, lowest first.
#[cfg(target_os = "linux")]
pub fn listening_ports(pids: &[i32]) -> Vec<u16> {
    let mut by_inode: HashMap<u64, u16> = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            by_inode.extend(parse_listening(&text));
        }
    }
    if by_inode.is_empty() {
        return Vec::new();
    }
    let mut ports = HashSet::new();
    for pid in pids {
        let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inode| inode.parse::<u64>().ok())
                && let Some(port) = by_inode.get(&inode)
            {
                ports.insert(*port);
            }
        }
    }
    let mut ports: Vec<u16> = ports.into_iter().collect();
    ports.sort_unstable();
    ports
}

#[cfg(not(target_os = "linux"))]
pub fn listening_ports(_pids: &[i32]) -> Vec<u16> {
    Vec::new()
}

/// Inode → local port of the sockets in LISTEN state (`0A`) of a `/proc/net/tcp` table.
pub fn parse_listening(table: &str) -> HashMap<u64, u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&"0A") {
                return None;
            }
            let port = u16::from_str_radix(fields.get(1)?.rsplit(':').next()?, 16).ok()?;
            let inode = fields.get(9)?.parse().ok()?;
            Some((inode, port))
        })
        .collect()
}

/// Watches a dev server until it answers at a URL it printed, or at a port one of its processes
/// listens on; then reports the preview, once.
pub(super) async fn watch(
    terminal_id: TerminalId,
    leader: i32,
    mut exit: watch::Receiver<Option<ExitInfo>>,
    answered: watch::Sender<Option<String>>,
    mut urls: watch::Receiver<Option<(String, u16)>>,
    events: mpsc::Sender<TerminalEvent>,
) {
    crate::install_crypto_provider();
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot make an HTTP client to probe previews");
            return;
        }
    };
    loop {
        if exit.borrow().is_some() {
            return;
        }
        let printed = urls.borrow_and_update().clone();
        let candidate = match printed {
            Some(found) => Some(found),
            None => tokio::task::spawn_blocking(move || {
                let members = process::members(&process::all_processes(), &[leader]);
                listening_ports(&members).first().copied()
            })
            .await
            .ok()
            .flatten()
            .map(|port| (format!("http://localhost:{port}/"), port)),
        };
        if let Some((url, port)) = candidate
            && answers(&client, &url, port).await
        {
            answered.send_replace(Some(url.clone()));
            let _ = events
                .send(TerminalEvent::Preview(Preview {
                    url,
                    port,
                    terminal_id,
                }))
                .await;
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = urls.changed() => {}
            _ = exit.changed() => return,
        }
    }
}

/// The server answers: any HTTP response for `http`, an accepted connection for `https` (a dev
/// certificate would not verify).
async fn answers(client: &reqwest::Client, url: &str, port: u16) -> bool {
    if url.starts_with("https://") {
        return tokio::net::TcpStream::connect(("localhost", port))
            .await
            .is_ok();
    }
    client.get(url).send().await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_local_urls_as_dev_servers_print_them() {
        let cases = [
            (
                "  ➜  Local:   http://localhost:5173/",
                "http://localhost:5173/",
                5173,
            ),
            (
                "Local: http://127.0.0.1:3000",
                "http://127.0.0.1:3000/",
                3000,
            ),
            (
                "Listening on http://0.0.0.0:8080/app?x=1.",
                "http://localhost:8080/app?x=1.",
                8080,
            ),
            (
                "serving at https://[::1]:4443/ (tls)",
                "https://[::1]:4443/",
                4443,
            ),
            (
                "ready - started server on [::]:3000, url: http://localhost:3000",
                "http://localhost:3000/",
                3000,
            ),
            (
                "see https://vitejs.dev then http://localhost:4173/",
                "http://localhost:4173/",
                4173,
            ),
        ];
        for (line, url, port) in cases {
            assert_eq!(find_local_url(line), Some((url.to_owned(), port)), "{line}");
        }
        for line in [
            "Network: http://192.168.1.20:5173/",
            "docs at https://example.com:443/",
            "http://localhost/ has no port",
            "http://localhost:99999/",
            "http://localhost:0/",
            "http",
        ] {
            assert_eq!(find_local_url(line), None, "{line}");
        }
    }

    #[test]
    fn the_scanner_skips_colours_and_joins_lines_across_chunks() {
        let mut scanner = UrlScanner::default();
        assert_eq!(
            scanner.feed(
                "\u{1b}[32m  ➜\u{1b}[39m  \u{1b}[1mLocal\u{1b}[22m:   \u{1b}[36mhttp://local"
            ),
            None
        );
        assert_eq!(
            scanner.feed("host:\u{1b}[1m5173\u{1b}[22m/\u{1b}[39m\r\n"),
            Some(("http://localhost:5173/".to_owned(), 5173))
        );
        assert_eq!(scanner.feed("\u{1b}]0;title\u{7}plain line\n"), None);
    }

    #[test]
    fn plain_text_drops_sequences_and_carriage_returns() {
        assert_eq!(
            plain_text("\u{1b}[31merror\u{1b}[0m: x\r\n\u{1b}]0;t\u{1b}\\done\r\n"),
            "error: x\ndone\n"
        );
    }

    #[test]
    fn listening_sockets_are_read_from_the_tcp_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:A2B4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 434343 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(parse_listening(table), HashMap::from([(424242, 8080)]));
    }
}
