//! Markdown helpers: the document title and ATX-heading sniffing.

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
