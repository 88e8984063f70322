//! Source maps (version 3), enough to put a page's stack frames back in the files the user wrote: a dev
//! server that transforms code (Vite's JSX and TypeScript, a bundler's output) serves it with a map, as
//! a `sourceMappingURL` comment at the end of the script — inline (`data:…;base64,`) or beside it.
//!
//! Pure: the caller fetches the script and the map.

use base64::Engine as _;
use serde::Deserialize;

/// A map from generated positions (0-based lines and columns) to the sources'.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceMap {
    /// Each source with `sourceRoot` applied, as written in the map.
    pub sources: Vec<String>,
    /// Per generated line: its mapped segments by generated column, ascending.
    lines: Vec<Vec<Segment>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    column: u32,
    source: u32,
    line: u32,
    source_column: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    sources: Vec<Option<String>>,
    #[serde(default)]
    source_root: Option<String>,
    mappings: String,
}

impl SourceMap {
    /// Parses a map's JSON; `None` when it is not one (or is an index map, which dev servers do not serve).
    pub fn parse(json: &str) -> Option<SourceMap> {
        let raw: Raw = serde_json::from_str(json).ok()?;
        let root = raw
            .source_root
            .filter(|root| !root.is_empty())
            .map(|root| format!("{}/", root.trim_end_matches('/')));
        let sources = raw
            .sources
            .into_iter()
            .map(|source| {
                let source = source.unwrap_or_default();
                match &root {
                    Some(root) if !source.starts_with('/') && !source.contains("://") => {
                        format!("{root}{source}")
                    }
                    _ => source,
                }
            })
            .collect();
        Some(SourceMap {
            sources,
            lines: decode(&raw.mappings)?,
        })
    }

    /// Where the generated `line`:`column` (0-based) came from: the source and its 0-based line and
    /// column — the last mapped segment at or before the column on that line.
    pub fn lookup(&self, line: u32, column: u32) -> Option<(&str, u32, u32)> {
        let segments = self.lines.get(usize::try_from(line).ok()?)?;
        // Before the line's first mapped column: that first segment.
        let at = segments.partition_point(|segment| segment.column <= column);
        let segment = segments.get(at.saturating_sub(1))?;
        let source = self.sources.get(usize::try_from(segment.source).ok()?)?;
        Some((source.as_str(), segment.line, segment.source_column))
    }
}

/// The `mappings` string: `;` between generated lines, `,` between segments, each segment base64 VLQ
/// fields relative to the previous (the generated column to the line's previous only).
fn decode(mappings: &str) -> Option<Vec<Vec<Segment>>> {
    let mut lines = Vec::new();
    let (mut source, mut line, mut source_column) = (0i64, 0i64, 0i64);
    for text in mappings.split(';') {
        let mut segments = Vec::new();
        let mut column = 0i64;
        for field in text.split(',').filter(|field| !field.is_empty()) {
            let values = vlq(field)?;
            column += values.first()?;
            if values.len() >= 4 {
                source += values[1];
                line += values[2];
                source_column += values[3];
                segments.push(Segment {
                    column: u32::try_from(column).ok()?,
                    source: u32::try_from(source).ok()?,
                    line: u32::try_from(line).ok()?,
                    source_column: u32::try_from(source_column).ok()?,
                });
            }
        }
        segments.sort_by_key(|segment| segment.column);
        lines.push(segments);
    }
    Some(lines)
}

/// One segment's base64 VLQ values.
fn vlq(field: &str) -> Option<Vec<i64>> {
    let mut values = Vec::new();
    let (mut value, mut shift) = (0i64, 0u32);
    for byte in field.bytes() {
        let digit = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        value += i64::from(digit & 31) << shift;
        if digit & 32 == 0 {
            values.push(if value & 1 == 1 {
                -(value >> 1)
            } else {
                value >> 1
            });
            value = 0;
            shift = 0;
        } else {
            shift += 5;
            if shift > 60 {
                return None;
            }
        }
    }
    (shift == 0).then_some(values)
}

/// Where a script's map is: the last `sourceMappingURL` comment (`//#` or `//@`), as written.
pub fn url_in(script: &str) -> Option<&str> {
    let at = script
        .rfind("//# sourceMappingURL=")
        .or_else(|| script.rfind("//@ sourceMappingURL="))?;
    let rest = &script[at + "//# sourceMappingURL=".len()..];
    rest.split_whitespace().next()
}

/// An inline map (`data:application/json[;charset=…];base64,…` or URL-encoded): its JSON. `None` for a
/// map that lives at a URL of its own.
pub fn inline(url: &str) -> Option<String> {
    let data = url.strip_prefix("data:")?;
    let (header, payload) = data.split_once(',')?;
    if header.ends_with(";base64") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .ok()?;
        String::from_utf8(bytes).ok()
    } else {
        Some(percent_decoded(payload))
    }
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = text.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlq_values_decode_as_the_specification_encodes_them() {
        assert_eq!(vlq("AAAA"), Some(vec![0, 0, 0, 0]));
        assert_eq!(vlq("D"), Some(vec![-1]));
        assert_eq!(vlq("gB"), Some(vec![16]));
        assert_eq!(vlq("2HwB"), Some(vec![123, 24]));
        assert_eq!(vlq("g"), None, "a continuation without its end");
        assert_eq!(vlq("A!"), None);
    }

    #[test]
    fn a_generated_position_maps_back_to_its_source() {
        // Line 0: column 0 → a.ts 0:0; column 10 → a.ts 2:4. Line 1: nothing. Line 2: column 4 → b.tsx 9:2.
        let map = SourceMap::parse(
            r#"{"version":3,"sourceRoot":"/src","sources":["a.ts","b.tsx"],"names":[],"mappings":"AAAA,UAEI;;ICOF"}"#,
        )
        .expect("a map");
        assert_eq!(map.sources, ["/src/a.ts", "/src/b.tsx"]);
        assert_eq!(map.lookup(0, 0), Some(("/src/a.ts", 0, 0)));
        assert_eq!(map.lookup(0, 12), Some(("/src/a.ts", 2, 4)));
        assert_eq!(map.lookup(0, 9), Some(("/src/a.ts", 0, 0)));
        assert_eq!(map.lookup(1, 0), None);
        assert_eq!(map.lookup(2, 30), Some(("/src/b.tsx", 9, 2)));
        assert_eq!(
            map.lookup(2, 1),
            Some(("/src/b.tsx", 9, 2)),
            "before the first segment"
        );
        assert_eq!(map.lookup(9, 0), None);
        assert!(SourceMap::parse("{}").is_none());
    }

    #[test]
    fn the_map_is_found_at_the_end_of_the_script_inline_or_beside_it() {
        let script = "let a = 1;\n//# sourceMappingURL=data:application/json;base64,eyJtYXBwaW5ncyI6IkFBQUEifQ==\n";
        let url = url_in(script).expect("a map");
        assert_eq!(inline(url).as_deref(), Some(r#"{"mappings":"AAAA"}"#));
        assert_eq!(
            url_in("x\n//# sourceMappingURL=main.js.map"),
            Some("main.js.map")
        );
        assert_eq!(inline("main.js.map"), None);
        assert_eq!(
            inline("data:application/json;charset=utf-8,%7B%22a%22%3A1%7D").as_deref(),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(url_in("no map here"), None);
    }
}
