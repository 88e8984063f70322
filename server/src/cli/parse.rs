//! `openbolt parse`: the parser as a command. Reads a reply on stdin, feeds it in chunks, and prints one
//! JSON object per event (the schema is in docs/parse.md).

use anyhow::{Context, bail};
use openbolt_parser::{ActionInfo, ArtifactInfo, Event, Parser};
use serde::Serialize;
use std::io::{BufWriter, Read, Write};

#[derive(Debug, clap::Args)]
pub struct ParseArguments {
    /// Feed the reply in chunks of this many bytes (moved forward to a character boundary).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub chunk_size: u32,
    /// Merge adjacent text and delta events, so the output does not depend on the chunk size.
    #[arg(long)]
    pub coalesce: bool,
}

/// One event as printed: `event` names it, the other fields are camelCase.
#[derive(Debug, Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
enum JsonEvent<'a> {
    Text {
        text: &'a str,
    },
    ArtifactOpen {
        artifact_id: &'a str,
        title: &'a str,
    },
    ArtifactClose {
        artifact_id: &'a str,
        title: &'a str,
    },
    ArtifactIncomplete {
        artifact_id: &'a str,
        title: &'a str,
    },
    ActionOpen {
        #[serde(flatten)]
        action: JsonAction<'a>,
    },
    ActionDelta {
        index: usize,
        text: &'a str,
    },
    ActionClose {
        #[serde(flatten)]
        action: JsonAction<'a>,
        content: &'a str,
    },
    ActionIncomplete {
        #[serde(flatten)]
        action: JsonAction<'a>,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonAction<'a> {
    artifact_id: &'a str,
    index: usize,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_path: Option<&'a str>,
}

impl<'a> JsonAction<'a> {
    fn new(action: &'a ActionInfo) -> Self {
        JsonAction {
            artifact_id: &action.artifact_id,
            index: action.index,
            kind: action.kind.as_str(),
            file_path: action.file_path.as_deref(),
        }
    }
}

fn to_json<'a>(event: &'a Event<'_>) -> JsonEvent<'a> {
    let artifact = |info: &'a ArtifactInfo| (info.id.as_str(), info.title.as_str());
    match event {
        Event::Text(text) => JsonEvent::Text { text },
        Event::ArtifactOpen(info) => {
            let (artifact_id, title) = artifact(info);
            JsonEvent::ArtifactOpen { artifact_id, title }
        }
        Event::ArtifactClose(info) => {
            let (artifact_id, title) = artifact(info);
            JsonEvent::ArtifactClose { artifact_id, title }
        }
        Event::ArtifactIncomplete(info) => {
            let (artifact_id, title) = artifact(info);
            JsonEvent::ArtifactIncomplete { artifact_id, title }
        }
        Event::ActionOpen(action) => JsonEvent::ActionOpen {
            action: JsonAction::new(action),
        },
        Event::ActionDelta { index, text } => JsonEvent::ActionDelta {
            index: *index,
            text,
        },
        Event::ActionClose { action, content } => JsonEvent::ActionClose {
            action: JsonAction::new(action),
            content,
        },
        Event::ActionIncomplete(action) => JsonEvent::ActionIncomplete {
            action: JsonAction::new(action),
        },
    }
}

/// Reads stdin to its end, printing events as they come.
pub fn run(arguments: &ParseArguments) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut output = BufWriter::new(stdout.lock());
    parse_stream(stdin.lock(), &mut output, arguments)?;
    output.flush().context("writing to stdout")?;
    Ok(())
}

/// The command's work, on any reader and writer.
pub fn parse_stream(
    mut input: impl Read,
    output: &mut impl Write,
    arguments: &ParseArguments,
) -> anyhow::Result<()> {
    let chunk_size = arguments.chunk_size as usize;
    let mut parser = Parser::new();
    let mut printer = Printer {
        output,
        coalesce: arguments.coalesce,
        held: None,
        error: None,
    };
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut read_total = 0usize;
    loop {
        let start = buffer.len();
        buffer.resize(start + 64 * 1024, 0);
        let read = input.read(&mut buffer[start..]).context("reading stdin")?;
        buffer.truncate(start + read);
        let valid = match std::str::from_utf8(&buffer) {
            Ok(text) => text.len(),
            Err(error) if error.error_len().is_none() && read > 0 => error.valid_up_to(),
            Err(error) => bail!(
                "stdin is not UTF-8: invalid byte at offset {}",
                read_total + error.valid_up_to()
            ),
        };
        let text = std::str::from_utf8(&buffer[..valid]).context("checked above")?;
        let mut rest = text;
        while !rest.is_empty() {
            let mut end = chunk_size.min(rest.len());
            while !rest.is_char_boundary(end) {
                end += 1;
            }
            parser.feed_with(&rest[..end], |event| printer.print(event));
            rest = &rest[end..];
        }
        printer.check()?;
        read_total += valid;
        buffer.drain(..valid);
        if read == 0 {
            break;
        }
    }
    parser.finish_with(|event| printer.print(event));
    printer.flush_held();
    printer.check()
}

/// Writes events, holding the last text or delta back when coalescing.
struct Printer<'w, W> {
    output: &'w mut W,
    coalesce: bool,
    held: Option<Event<'static>>,
    error: Option<anyhow::Error>,
}

impl<W: Write> Printer<'_, W> {
    fn print(&mut self, event: Event<'_>) {
        if !self.coalesce {
            self.write(&event);
            return;
        }
        let merged = match (&mut self.held, &event) {
            (Some(Event::Text(held)), Event::Text(text)) => {
                held.to_mut().push_str(text);
                true
            }
            (
                Some(Event::ActionDelta {
                    index: held_index,
                    text: held,
                }),
                Event::ActionDelta { index, text },
            ) if held_index == index => {
                held.to_mut().push_str(text);
                true
            }
            _ => false,
        };
        if merged {
            return;
        }
        self.flush_held();
        match event {
            Event::Text(_) | Event::ActionDelta { .. } => self.held = Some(event.into_owned()),
            event => self.write(&event),
        }
    }

    fn flush_held(&mut self) {
        if let Some(held) = self.held.take() {
            self.write(&held);
        }
    }

    fn write(&mut self, event: &Event<'_>) {
        if self.error.is_some() {
            return;
        }
        let result = serde_json::to_writer(&mut *self.output, &to_json(event))
            .map_err(anyhow::Error::from)
            .and_then(|()| Ok(self.output.write_all(b"\n")?));
        if let Err(error) = result {
            self.error = Some(error.context("writing to stdout"));
        }
    }

    fn check(&mut self) -> anyhow::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}
