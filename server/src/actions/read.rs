//! Read actions: a file's current text for the model, numbered when long, in line ranges within a
//! budget.

use crate::tokens;
use std::fmt::Write as _;

/// Files longer than this many lines are shown with line numbers.
const NUMBERED_FROM: usize = 60;

/// A `lines` attribute: `120-240`, `120-` (to the end) or `120` (that line), 1-based and inclusive.
pub fn parse_lines(spec: &str) -> Result<(usize, Option<usize>), String> {
    let bad = || format!("lines={spec:?} is not a range like \"120-240\"");
    let spec = spec.trim();
    let (start, end) = match spec.split_once(['-', ':']) {
        Some((start, end)) => (start.trim(), Some(end.trim())),
        None => (spec, None),
    };
    let start: usize = start.parse().map_err(|_| bad())?;
    let end = match end {
        None => Some(start),
        Some("") => None,
        Some(end) => Some(end.parse::<usize>().map_err(|_| bad())?),
    };
    if start == 0 || end.is_some_and(|end| end < start) {
        return Err(bad());
    }
    Ok((start, end))
}

/// A read as the model is shown it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// For people: `412 lines`, `lines 120-240 of 412`.
    pub summary: String,
    /// Every line was shown.
    pub whole: bool,
}

/// What the model is shown of `content`, in `budget` tokens.
pub fn render(
    path: &str,
    content: &str,
    range: Option<(usize, Option<usize>)>,
    budget: usize,
) -> Rendered {
    let lines: Vec<&str> = content.lines().collect();
    let total = lines.len();
    let (first, last) = match range {
        Some((start, end)) => (start.min(total.max(1)), end.unwrap_or(total).min(total)),
        None => (1, total),
    };
    let numbered = range.is_some() || total > NUMBERED_FROM;
    let width = total.to_string().len();
    let mut body = String::new();
    let mut spent = 0usize;
    let mut shown_last = first.saturating_sub(1);
    let mut cut_line = false;
    for number in first..=last {
        let Some(line) = lines.get(number - 1) else {
            break;
        };
        let mut piece = String::new();
        if numbered {
            let _ = write!(piece, "{number:>width$}│ ");
        }
        piece.push_str(line);
        piece.push('\n');
        let cost = tokens::estimate(&piece);
        if spent + cost > budget {
            if number == first {
                // One line longer than the whole budget (a bundle, minified code): its start only.
                let end = tokens::prefix_bytes_within(&piece, budget.saturating_sub(spent));
                body.push_str(piece[..end].trim_end_matches('\n'));
                body.push_str(" …\n");
                cut_line = true;
            }
            break;
        }
        spent += cost;
        body.push_str(&piece);
        shown_last = number;
    }
    let whole = first == 1 && shown_last == total && !cut_line;
    let summary = if whole {
        format!("{total} line{}", if total == 1 { "" } else { "s" })
    } else if total == 0 {
        "empty".to_owned()
    } else {
        format!("lines {first}-{shown_last} of {total}")
    };
    let mut text = if whole {
        format!("<file path=\"{path}\" lines=\"{total}\">\n")
    } else {
        format!("<file path=\"{path}\" shown=\"{first}-{shown_last}\" of=\"{total}\">\n")
    };
    text.push_str(&body);
    if shown_last < last {
        let _ = writeln!(
            text,
            "(cut to fit: read on with <boltAction type=\"read\" filePath=\"{path}\" lines=\"{}-{total}\"/>)",
            shown_last + 1
        );
    }
    text.push_str("</file>\n");
    Rendered {
        text,
        summary,
        whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bad_ones_are_named() {
        assert_eq!(parse_lines("120-240"), Ok((120, Some(240))));
        assert_eq!(parse_lines(" 7 "), Ok((7, Some(7))));
        assert_eq!(parse_lines("30-"), Ok((30, None)));
        assert!(parse_lines("0-3").is_err());
        assert!(parse_lines("9-3").is_err());
        assert!(parse_lines("all").is_err());
    }

    #[test]
    fn long_files_are_numbered_and_cut_to_the_budget() {
        let content: String = (1..=412).map(|n| format!("let v{n} = {n};\n")).collect();
        let Rendered {
            text,
            summary,
            whole,
        } = render("src/big.js", &content, None, 100_000);
        assert_eq!(summary, "412 lines");
        assert!(whole);
        assert!(text.contains("  1│ let v1 = 1;\n") && text.contains("412│ let v412 = 412;\n"));

        let Rendered { text, summary, .. } =
            render("src/big.js", &content, Some((120, Some(240))), 100_000);
        assert_eq!(summary, "lines 120-240 of 412");
        assert!(
            text.starts_with(
                "<file path=\"src/big.js\" shown=\"120-240\" of=\"412\">\n120│ let v120"
            )
        );

        let Rendered {
            text,
            summary,
            whole,
        } = render("src/big.js", &content, None, 200);
        assert!(summary.starts_with("lines 1-") && !whole, "{summary}");
        assert!(
            text.contains(
                "read on with <boltAction type=\"read\" filePath=\"src/big.js\" lines=\""
            )
        );
        assert!(tokens::estimate(&text) < 300);

        let text = render("a.txt", "short\n", None, 100).text;
        assert_eq!(text, "<file path=\"a.txt\" lines=\"1\">\nshort\n</file>\n");

        // One line over the whole budget: its start, and not whole.
        let bundle = format!("{}\n", "var a=1;".repeat(20_000));
        let read = render("dist/bundle.js", &bundle, None, 300);
        assert!(!read.whole);
        assert!(tokens::estimate(&read.text) < 400, "{}", read.text.len());
    }
}
