//! Line diffs: what changes between two versions of a file, as a few replacements of whole lines — so
//! an editor changes only those lines (cursors, folds and marks elsewhere stay put, undo is one step)
//! and a summary can say `+3 −1`.
//!
//! Common leading and trailing lines are cut first (linear). When the rest has as many lines on both
//! sides and most of them pair up unchanged (lines edited in place: a rename, a reformat), the
//! changed runs are found pairwise (linear); otherwise Myers' algorithm runs under a deadline, after
//! which what is left is one replacement: a rewrite of a 10 MB file still answers quickly.

use similar::{Algorithm, DiffOp};
use std::time::{Duration, Instant};

/// Lines `start..end` of the old text (bytes `start_byte..end_byte`) become `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineChange {
    pub start: usize,
    pub end: usize,
    pub start_byte: usize,
    pub end_byte: usize,
    pub text: String,
}

/// How long the diff may look for the smallest change before the rest is replaced whole.
const DEADLINE: Duration = Duration::from_millis(40);

/// The replacements that turn `before` into `after`, in order, not overlapping.
pub fn line_changes(before: &str, after: &str) -> Vec<LineChange> {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let head = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let old_middle = &old[head..old.len() - tail];
    let new_middle = &new[head..new.len() - tail];
    if old_middle.is_empty() && new_middle.is_empty() {
        return Vec::new();
    }
    let head_bytes: usize = old[..head].iter().map(|line| line.len()).sum();
    // Byte offsets of the old middle's lines.
    let mut offsets = Vec::with_capacity(old_middle.len() + 1);
    let mut at = head_bytes;
    offsets.push(at);
    for line in old_middle {
        at += line.len();
        offsets.push(at);
    }
    if let Some(changes) = same_length_changes(head, &offsets, old_middle, new_middle) {
        return changes;
    }
    let ops = similar::capture_diff_slices_deadline(
        Algorithm::Myers,
        old_middle,
        new_middle,
        Some(Instant::now() + DEADLINE),
    );
    let mut changes: Vec<LineChange> = Vec::new();
    // Where the previous operation ended in the old lines: an insertion goes there (similar's
    // `Insert::old_index` is not always that place).
    let mut cursor = 0;
    for op in ops {
        let (old_index, old_len, new_index, new_len) = match op {
            DiffOp::Equal { old_index, len, .. } => {
                cursor = old_index + len;
                continue;
            }
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index, old_len, new_index, 0),
            DiffOp::Insert {
                new_index, new_len, ..
            } => (cursor, 0, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        cursor = old_index + old_len;
        let text: String = new_middle[new_index..new_index + new_len].concat();
        // Adjacent operations (a delete then an insert) become one replacement.
        if let Some(last) = changes.last_mut()
            && last.end == head + old_index
        {
            last.end += old_len;
            last.end_byte = offsets[old_index + old_len];
            last.text.push_str(&text);
            continue;
        }
        changes.push(LineChange {
            start: head + old_index,
            end: head + old_index + old_len,
            start_byte: offsets[old_index],
            end_byte: offsets[old_index + old_len],
            text,
        });
    }
    changes
}

/// Lines edited in place: when both sides have as many lines and at least half of them are equal
/// pairwise, each run of differing pairs is one change.
fn same_length_changes(
    head: usize,
    offsets: &[usize],
    old: &[&str],
    new: &[&str],
) -> Option<Vec<LineChange>> {
    if old.len() != new.len() || old.is_empty() {
        return None;
    }
    let equal = old.iter().zip(new).filter(|(a, b)| a == b).count();
    if equal * 2 < old.len() {
        return None;
    }
    let mut changes: Vec<LineChange> = Vec::new();
    for (index, (a, b)) in old.iter().zip(new).enumerate() {
        if a == b {
            continue;
        }
        match changes.last_mut() {
            Some(last) if last.end == head + index => {
                last.end += 1;
                last.end_byte = offsets[index + 1];
                last.text.push_str(b);
            }
            _ => changes.push(LineChange {
                start: head + index,
                end: head + index + 1,
                start_byte: offsets[index],
                end_byte: offsets[index + 1],
                text: (*b).to_owned(),
            }),
        }
    }
    Some(changes)
}

/// Lines added and removed between `before` and `after`.
pub fn counts(before: &str, after: &str) -> (usize, usize) {
    line_changes(before, after)
        .iter()
        .fold((0, 0), |(added, removed), change| {
            (
                added + change.text.split_inclusive('\n').count(),
                removed + (change.end - change.start),
            )
        })
}

/// `before` with `changes` applied (what an editor does with them).
pub fn apply(before: &str, changes: &[LineChange]) -> String {
    let mut out = String::with_capacity(before.len());
    let mut at = 0;
    for change in changes {
        out.push_str(&before[at..change.start_byte]);
        out.push_str(&change.text);
        at = change.end_byte;
    }
    out.push_str(&before[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_changed_line_is_one_small_change() {
        let before: String = (0..2000).map(|n| format!("line {n}\n")).collect();
        let after = before.replace("line 1000\n", "line one thousand\n");
        let changes = line_changes(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].start, changes[0].end), (1000, 1001));
        assert_eq!(changes[0].text, "line one thousand\n");
        assert_eq!(apply(&before, &changes), after);
        assert_eq!(counts(&before, &after), (1, 1));
    }

    #[test]
    fn edges_without_final_newlines_and_empty_texts() {
        for (before, after) in [
            ("a\nb", "a\nc"),
            ("a\nb\n", "a\nb"),
            ("", "new\n"),
            ("old\n", ""),
            ("x\r\ny\r\n", "x\r\nz\r\ny\r\n"),
        ] {
            assert_eq!(
                apply(before, &line_changes(before, after)),
                after,
                "{before:?} → {after:?}"
            );
        }
        assert!(line_changes("same\n", "same\n").is_empty());
    }

    proptest! {
        #[test]
        fn changes_turn_the_old_text_into_the_new(
            before in proptest::collection::vec("[abc]{0,3}\n?", 0..30),
            after in proptest::collection::vec("[abc]{0,3}\n?", 0..30),
        ) {
            let (before, after) = (before.concat(), after.concat());
            let changes = line_changes(&before, &after);
            prop_assert_eq!(apply(&before, &changes), after);
            for pair in changes.windows(2) {
                prop_assert!(pair[0].end_byte <= pair[1].start_byte);
            }
        }
    }
}
