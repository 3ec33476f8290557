//! Input decoding + splitting: any bytes, read as each input format, then the outline and the
//! chunks under a small budget. Checks the split's guarantees (src/split/mod.rs, `chunks`): no
//! panic; every chunk within `budget.max`; every byte range (sections, chunks, parts) inside the
//! body and on char boundaries; chunks and their parts in order and not overlapping.
//!
//! Input layout: byte 0 picks the format (and `--encoding`), byte 1 the budget's target; the rest
//! is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takeaways::input::{self, InputFormat, InputOptions};
use takeaways::split::{self, Budget};

const FORMATS: [InputFormat; 5] = [
    InputFormat::Markdown,
    InputFormat::Text,
    InputFormat::Html,
    InputFormat::AsciiDoc,
    InputFormat::Rst,
];

const ENCODINGS: [Option<&str>; 4] = [None, None, Some("utf-16le"), Some("windows-1252")];

fn check_range(body: &str, range: &std::ops::Range<usize>, what: &str) {
    assert!(
        range.start <= range.end && range.end <= body.len(),
        "{what} {range:?} outside the body of {} bytes",
        body.len()
    );
    assert!(
        body.is_char_boundary(range.start) && body.is_char_boundary(range.end),
        "{what} {range:?} not on char boundaries"
    );
}

fuzz_target!(|data: &[u8]| {
    let [selector, size, file @ ..] = data else {
        return;
    };
    let format = FORMATS[usize::from(*selector) % FORMATS.len()];
    let opts = InputOptions {
        encoding: ENCODINGS[usize::from(*selector / 5) % ENCODINGS.len()].map(str::to_string),
        input_format: None,
    };
    let Ok(doc) = input::from_bytes("fuzz.in", file, format, &opts) else {
        return;
    };
    let body = &doc.body;
    assert!(body.ends_with('\n') && !body.ends_with("\n\n"), "untidy body");
    let outline = split::outline(&doc);
    for s in &outline.sections {
        check_range(body, &s.range, "section");
    }
    let target = 8 + usize::from(*size);
    let budget = Budget {
        target,
        max: target + 8,
    };
    let chunks = split::chunks(&doc, &outline, budget);
    let mut end = 0;
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.index, i, "chunk index");
        check_range(body, &c.range, "chunk");
        assert!(c.range.start >= end, "chunk {i} overlaps the one before");
        end = c.range.end;
        assert!(
            c.est_tokens <= budget.max,
            "chunk {i}: {} estimated tokens > max {}",
            c.est_tokens,
            budget.max
        );
        assert!(!c.parts.is_empty(), "chunk {i} without parts");
        let mut part_end = c.range.start;
        for p in &c.parts {
            check_range(body, &p.range, "part");
            assert!(
                p.range.start >= part_end && p.range.end <= c.range.end,
                "part {:?} out of order in chunk {:?}",
                p.range,
                c.range
            );
            part_end = p.range.end;
        }
        let _ = c.prompt_text(body);
    }
});
