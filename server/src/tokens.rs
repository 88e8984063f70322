//! A token estimate that needs no tokenizer: close to what BPE tokenizers (OpenAI's, Anthropic's,
//! Llama's) count for code and English, a little above rather than below.
//!
//! Counting: a run of letters and digits costs one token per 5 bytes (rounded up), every other visible
//! ASCII character one token, whitespace a token per line break and nothing else, and a non-ASCII
//! character one token (CJK and emoji are a token or more each).

/// The estimated token count of `text`.
pub fn estimate(text: &str) -> usize {
    let mut tokens = 0usize;
    let mut word = 0usize;
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' {
            word += 1;
            continue;
        }
        tokens += word.div_ceil(5);
        word = 0;
        if byte == b'\n' || byte.is_ascii_punctuation() {
            tokens += 1;
        } else if byte >= 0xC0 {
            // The first byte of a multi-byte character.
            tokens += 1;
        }
    }
    tokens + word.div_ceil(5)
}

/// How many bytes of `text` (a prefix, cut at a line end when there is one) fit in `tokens`.
pub fn prefix_within(text: &str, tokens: usize) -> usize {
    let mut spent = 0usize;
    let mut end = 0usize;
    for line in text.split_inclusive('\n') {
        let cost = estimate(line);
        if spent + cost > tokens {
            break;
        }
        spent += cost;
        end += line.len();
    }
    end
}

/// How many bytes of `text` (a prefix, cut anywhere at a character) fit in `tokens`, counted as
/// [`estimate`] counts.
pub fn prefix_bytes_within(text: &str, tokens: usize) -> usize {
    let mut spent = 0usize;
    let mut word = 0usize;
    for (at, c) in text.char_indices() {
        let cost = if c.is_ascii_alphanumeric() || c == '_' {
            word += 1;
            usize::from((word - 1).is_multiple_of(5))
        } else {
            word = 0;
            usize::from(c == '\n' || c.is_ascii_punctuation() || !c.is_ascii())
        };
        if spent + cost > tokens {
            return at;
        }
        spent += cost;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_in_the_range_of_real_tokenizers() {
        // BPE tokenizers count about 10 and 20 here: the estimate may err on the high side only.
        let prose = estimate("The quick brown fox jumps over the lazy dog.");
        assert!((10..=12).contains(&prose), "{prose}");
        let code = "function computeInvoiceTotals(invoice) {\n  return invoice.items.length;\n}\n";
        let code = estimate(code);
        assert!((18..=26).contains(&code), "{code}");
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("日本語"), 3);
    }

    #[test]
    fn a_prefix_of_one_long_line_is_cut_at_a_character() {
        let line = "ab, 日本 ".repeat(100);
        for budget in [0, 1, 7, 50] {
            let end = prefix_bytes_within(&line, budget);
            assert!(line.is_char_boundary(end));
            assert!(estimate(&line[..end]) <= budget, "{budget}");
        }
        assert_eq!(prefix_bytes_within("abc", 100), 3);
    }

    #[test]
    fn a_prefix_ends_at_a_line() {
        let text = "one two\nthree four\nfive\n";
        assert_eq!(&text[..prefix_within(text, 5)], "one two\n");
        assert_eq!(prefix_within(text, 1000), text.len());
        assert_eq!(prefix_within(text, 0), 0);
    }
}
