//! Unit tests of the parent module.

use super::*;

#[test]
fn formatting_tags_go_and_their_words_stay() {
    assert_eq!(
        strip_format_tags("<em>The tooling</em>  **bundling**\n`continues`"),
        "The tooling **bundling** `continues`"
    );
    assert_eq!(
        strip_format_tags("<h1>The Database as a Value</h1>"),
        "The Database as a Value"
    );
    assert_eq!(strip_format_tags("<img src="), "");
    assert_eq!(
        strip_format_tags("see <img src=\"a.png\"> here"),
        "see here"
    );
    assert_eq!(
        strip_format_tags("p99 < 200 ms, <b>fast</b>"),
        "p99 < 200 ms, fast"
    );
    assert_eq!(strip_format_tags("one<br>two"), "one two");
    assert_eq!(strip_format_tags("<em>Ngozi Berg</Em>"), "Ngozi Berg");
    assert_eq!(
        strip_format_tags("<em>Cut by the grammar"),
        "Cut by the grammar"
    );
}

#[test]
fn tags_that_are_the_content_stay() {
    for kept in [
        "std::vector<int> wins",
        "Use <b for bold",
        "Use Vec<String> for the <main> element",
        "<script>alert(1)</script>",
        "Use <br> tags sparingly",
        "The <p>, <div> and <span> elements",
        "Wrap it in <code> (or <pre>)",
    ] {
        assert_eq!(strip_format_tags(kept), kept);
    }
}

#[test]
fn stripping_twice_changes_nothing() {
    for s in [
        "x<em></em>y",
        "<<em>b>x",
        "<b> </b>x",
        "a <em>b</em>, <i>c</i>.",
        "<br><br>",
    ] {
        let once = strip_format_tags(s);
        assert_eq!(strip_format_tags(&once), once, "{s:?}");
    }
}

#[test]
fn markdown_inline_escapes_what_a_renderer_would_read() {
    assert_eq!(
        markdown_inline("Use Vec<String> for\nthe <main> element"),
        "Use Vec\\<String> for the \\<main> element"
    );
    assert_eq!(
        markdown_inline("*a* _b_ `c` [d](e) f|g ~~h~~ \\"),
        "\\*a\\* \\_b\\_ \\`c\\` \\[d\\](e) f\\|g \\~\\~h\\~\\~ \\\\"
    );
    assert_eq!(
        markdown_inline("AT&T &amp; &#39; &x"),
        "AT&T \\&amp; \\&#39; &x"
    );
    assert_eq!(markdown_inline("# not a heading #"), "# not a heading \\#");
    assert_eq!(
        markdown_paragraph("# not a heading #"),
        "\\# not a heading \\#"
    );
    assert_eq!(markdown_inline("C#"), "C#");
    assert_eq!(markdown_inline("Issue ##"), "Issue \\##");
    assert_eq!(markdown_inline("Ghent #14"), "Ghent #14");
    assert_eq!(markdown_paragraph("> quote"), "\\> quote");
    assert_eq!(markdown_paragraph("- item - x"), "\\- item - x");
    assert_eq!(markdown_paragraph("2024. A year"), "2024\\. A year");
    assert_eq!(markdown_inline("2024. A year"), "2024. A year");
    assert_eq!(markdown_paragraph("1) one"), "1\\) one");
    assert_eq!(markdown_paragraph("1.5 x faster"), "1.5 x faster");
    assert_eq!(markdown_paragraph("a > b, c - d"), "a > b, c - d");
}

#[test]
fn code_spans_fence_longer_than_any_run() {
    assert_eq!(code_span("a.md"), "`a.md`");
    assert_eq!(code_span("a`b"), "``a`b``");
    assert_eq!(code_span("`x``"), "``` `x`` ```");
    assert_eq!(code_span(" a "), "`  a  `");
    assert_eq!(code_span("a\nb"), "`a b`");
    assert_eq!(table_code_span("a|b"), "`a\\|b`");
}

#[test]
fn shorten_counts_chars_and_the_ellipsis() {
    assert_eq!(shorten("héllo", 5), "héllo");
    assert_eq!(shorten("héllo world", 5), "héll…");
    assert_eq!(shorten("abc", 0), "…");
}

#[test]
fn invisible_characters_are_stripped_and_counted() {
    let smuggled: String = "hi"
        .chars()
        .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
        .collect();
    let s = format!("a\u{200B}b\u{00AD}c\u{202E}d\u{2066}e\u{FEFF}f{smuggled}\u{E007F}.");
    assert_eq!(
        strip_invisible(&s),
        (std::borrow::Cow::Owned("abcdef.".into()), 8)
    );
    assert!(matches!(
        strip_invisible("plain é 日本"),
        (std::borrow::Cow::Borrowed(_), 0)
    ));
    // Direction marks and variation selectors stay.
    assert_eq!(strip_invisible("\u{200F}❤\u{FE0F}").1, 0);
}

#[test]
fn markdown_words_keep_what_a_reader_sees() {
    assert_eq!(
        markdown_words("We **cut** `p99` by [half](https://x.test), see <em>notes</em>."),
        "We cut p99 by half, see notes."
    );
    assert_eq!(
        markdown_words("## The *platform* team"),
        "The platform team"
    );
    assert_eq!(
        markdown_words("Use Vec<String> \\*here\\*"),
        "Use Vec<String> *here*"
    );
}

#[test]
fn sentences_end_once() {
    assert_eq!(sentence("Containers,"), "Containers.");
    assert_eq!(sentence("Done!"), "Done!");
    assert_eq!(sentence("  "), "");
    assert_eq!(sentence("終わり。"), "終わり。");
    assert_eq!(
        sentence("called for “responsible innovation.”"),
        "called for “responsible innovation.”"
    );
    assert_eq!(sentence("the “platform”"), "the “platform”.");
}

#[test]
fn content_tokens_drop_stopwords_and_plurals() {
    let t = content_tokens("The platforms of the future");
    assert!(t.contains("platform") && t.contains("future") && !t.contains("the"));
    assert!(content_tokens("平台工程").contains("平台"));
}
