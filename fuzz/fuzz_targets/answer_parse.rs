//! Model answers: the JSON answer parser (`extract::parse_answer::<ExtractAnswer>`: think
//! blocks, fences, raw control characters), the NDJSON stream reader (`llm::read_ndjson`, the
//! line buffer and answer accumulator the HTTP client uses) and quote finding. No panic; the
//! stream reader gives the same result however the bytes are cut into network chunks; a quote
//! is found on a char boundary.
//!
//! Input layout: byte 0 says where to cut the stream (the rest is the answer text / stream).
#![no_main]

use libfuzzer_sys::fuzz_target;
use takeaways::extract::detail::sentence_around;
use takeaways::extract::{find_quote, parse_answer, ExtractAnswer};
use takeaways::llm::read_ndjson;

fuzz_target!(|data: &[u8]| {
    let [cut, rest @ ..] = data else {
        return;
    };
    // The answer text as the model wrote it.
    let text = String::from_utf8_lossy(rest);
    if let Ok(answer) = parse_answer::<ExtractAnswer>(&text) {
        for t in &answer.takeaways {
            if let Some(r) = find_quote(&text, &t.quote) {
                assert!(
                    text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
                    "quote at {r:?}: not on char boundaries"
                );
                // The author's sentence around it: any text, never a panic.
                let _ = sentence_around(&text, r);
            }
        }
    }
    // The same bytes as a streamed answer: in one piece, and cut every `step` bytes.
    let whole = format!("{:?}", read_ndjson([rest]));
    let step = usize::from(*cut).max(1);
    let pieces = format!("{:?}", read_ndjson(rest.chunks(step)));
    assert_eq!(whole, pieces, "the result depends on how the stream is cut");
    // Quote finding over arbitrary text: split the text in two at the cut.
    let mid = (usize::from(*cut) * text.len() / 256).min(text.len());
    let mid = (0..=mid).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    if let Some(r) = find_quote(&text[..mid], &text[mid..]) {
        let hay = &text[..mid];
        assert!(hay.is_char_boundary(r.start) && hay.is_char_boundary(r.end) && r.end <= hay.len());
        let _ = sentence_around(hay, r);
    }
});
