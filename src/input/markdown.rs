//! Markdown helpers: the document title, ATX-heading sniffing, and removing HTML comments.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Headings as (level, plain text, written as ATX `#`), in document order.
fn headings(md: &str) -> Vec<(HeadingLevel, String, bool)> {
    let mut out = Vec::new();
    let mut current: Option<(HeadingLevel, String, bool)> = None;
    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                let atx = md[range].trim_start().starts_with('#');
                current = Some((level, String::new(), atx));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text, atx)) = current.take() {
                    out.push((level, crate::text::fold_space(&text), atx));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, text, _)) = current.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, text, _)) = current.as_mut() {
                    text.push(' ');
                }
            }
            _ => {}
        }
    }
    out
}

/// The title of a Markdown document: its top-level heading (ATX `#` or setext `===`), when
/// that heading is a title and not the first of several top-level sections.
///
/// The first H1 is the title when it is the only H1, or when it is the first heading and the
/// next heading is another H1 (the title has no subsections of its own, so the later H1s are
/// sections under it). A document like `# Day 1` / `## Talk` / `# Day 2` has no title.
pub(crate) fn title(md: &str) -> Option<String> {
    let hs = headings(md);
    let h1s = hs.iter().filter(|h| h.0 == HeadingLevel::H1).count();
    let first_h1 = hs.iter().position(|h| h.0 == HeadingLevel::H1)?;
    let is_title =
        h1s == 1 || (first_h1 == 0 && hs.get(1).is_none_or(|next| next.0 == HeadingLevel::H1));
    let text = &hs[first_h1].1;
    (is_title && !text.is_empty()).then(|| text.clone())
}

/// True when text has ATX headings (`# Day 1`, `## Talk`) outside code: at least two, or one
/// as its first line. Such a `.txt` file is really Markdown.
pub(crate) fn has_atx_headings(text: &str) -> bool {
    let hs = headings(text);
    let atx = hs.iter().filter(|h| h.2).count();
    let first_line_is_atx = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| {
            let t = l.trim_start_matches('#');
            l.starts_with('#')
                && l.len() - t.len() <= 6
                && t.starts_with([' ', '\t'])
                && !t.trim().is_empty()
        });
    atx >= 2 || (atx == 1 && first_line_is_atx)
}

/// `md` without its HTML comments, and how many were removed.
///
/// The comments are found with pulldown-cmark, so only what a CommonMark renderer would treat as
/// a comment goes: an inline comment (`text <!-- … --> text`, one inline HTML event) and every
/// `<!-- … -->` inside an HTML block (a comment block, or one inside a `<div>` block; an
/// unterminated `<!--` in a block runs to the end of the block, as in a browser). A `<!--` in a
/// code span or fence, or one with no end in a paragraph, is text and stays. Only the comment
/// itself is cut: the line it stood on stays, blank, so paragraphs it separated stay apart.
pub(crate) fn strip_comments(md: &str) -> (String, usize) {
    if !md.contains("<!--") {
        return (md.to_string(), 0);
    }
    let mut cuts: Vec<std::ops::Range<usize>> = Vec::new();
    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        match event {
            Event::InlineHtml(html) if html.starts_with("<!--") => cuts.push(range),
            Event::Start(Tag::HtmlBlock) => {
                let block = &md[range.clone()];
                let mut from = 0;
                while let Some(i) = block[from..].find("<!--") {
                    let start = from + i;
                    // `<!-->` and `<!--->` are whole comments (CommonMark 0.31).
                    let end = block[start + 2..]
                        .find("-->")
                        .map_or(block.len(), |j| start + 2 + j + 3);
                    cuts.push(range.start + start..range.start + end);
                    from = end;
                }
            }
            _ => {}
        }
    }
    cuts.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(md.len());
    let mut at = 0;
    let mut count = 0;
    for cut in cuts {
        if cut.start < at {
            continue; // nested in one already cut
        }
        out.push_str(&md[at..cut.start]);
        at = cut.end;
        count += 1;
    }
    out.push_str(&md[at..]);
    (out, count)
}
