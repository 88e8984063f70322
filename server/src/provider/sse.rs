//! A byte-level decoder of Server-Sent Events (the WHATWG event-stream format), fed in arbitrary chunks.
//!
//! Handles what real provider streams do: CRLF, LF or CR line ends (a `\r` ending one chunk and its `\n`
//! starting the next), `:` comment lines used as keep-alives, several `data:` lines joined with `\n`, UTF-8
//! split across chunks, a leading byte-order mark. An event with no `data` line is not dispatched.

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; empty means the default type, `message`.
    pub event: String,
    pub data: String,
}

/// The decoder's state between chunks.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the line not yet ended.
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next chunk belongs to that line end.
    after_cr: bool,
    started: bool,
    /// The event being assembled; its buffers are reused from one event to the next.
    current: SseEvent,
    has_data: bool,
}

impl SseDecoder {
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// Decodes `chunk`, handing every completed event to `on_event`.
    pub fn feed(&mut self, mut chunk: &[u8], mut on_event: impl FnMut(&SseEvent)) {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', chunk) {
            let line_end = chunk[end];
            self.line.extend_from_slice(&chunk[..end]);
            self.end_line(&mut on_event);
            chunk = &chunk[end + 1..];
            if line_end == b'\r' {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.line.extend_from_slice(chunk);
    }

    /// Ends the stream. A last event without its blank line is not dispatched, as the standard says.
    pub fn finish(&mut self) {
        *self = SseDecoder::default();
    }

    fn end_line(&mut self, on_event: &mut impl FnMut(&SseEvent)) {
        let mut line = std::mem::take(&mut self.line);
        let mut text: &[u8] = &line;
        if !self.started {
            self.started = true;
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        if text.is_empty() {
            if self.has_data {
                on_event(&self.current);
            }
            self.current.event.clear();
            self.current.data.clear();
            self.has_data = false;
        } else if text[0] != b':' {
            let (field, value) = match memchr::memchr(b':', text) {
                Some(colon) => {
                    let value = &text[colon + 1..];
                    (&text[..colon], value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (text, &b""[..]),
            };
            let value = String::from_utf8_lossy(value);
            match field {
                b"event" => {
                    self.current.event.clear();
                    self.current.event.push_str(&value);
                }
                b"data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(&value);
                    self.has_data = true;
                }
                // `id` and `retry` matter for reconnecting browsers, not for a one-shot POST.
                _ => {}
            }
        }
        line.clear();
        self.line = line;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, |event| events.push(event.clone()));
        }
        events
    }

    fn event(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    const STREAM: &[u8] = "\u{feff}: keep-alive\r\nevent: ping\r\ndata: {}\r\n\r\nevent: message_start\rdata: a\rdata:b\r\rdata: 日本 🦀\n\nevent: no-data\n\n: comment\n\ndata: [DONE]\n\nevent: cut\ndata: never dispatched".as_bytes();

    #[test]
    fn decodes_every_line_ending_comments_and_multiline_data() {
        assert_eq!(
            decode(&[STREAM]),
            [
                event("ping", "{}"),
                event("message_start", "a\nb"),
                event("", "日本 🦀"),
                event("", "[DONE]"),
            ]
        );
    }

    #[test]
    fn a_cr_at_a_chunk_end_is_one_line_end() {
        assert_eq!(
            decode(&[b"data: x\r", b"\n\r", b"\ndata: y\n\n"]),
            [event("", "x"), event("", "y")]
        );
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_events(cuts in prop::collection::vec(0usize..STREAM.len(), 0..12)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            cuts.dedup();
            let mut chunks = Vec::new();
            let mut start = 0;
            for cut in cuts {
                chunks.push(&STREAM[start..cut]);
                start = cut;
            }
            chunks.push(&STREAM[start..]);
            prop_assert_eq!(decode(&chunks), decode(&[STREAM]));
        }

        #[test]
        fn random_bytes_in_random_chunks_never_panic_and_agree(
            bytes in prop::collection::vec(prop::sample::select(&b"data: event:\r\n\n:x\xF0\x9F\xA6\x80 "[..]), 0..200),
            size in 1usize..16,
        ) {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            prop_assert_eq!(decode(&chunks), decode(&[&bytes]));
        }
    }
}
