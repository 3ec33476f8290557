//! HTML → Markdown with htmd, minus page boilerplate; title/author/date from the page.

use std::rc::Rc;

use htmd::options::{BulletListMarker, Options};
use htmd::{HtmlToMarkdown, Node};
use markup5ever_rcdom::NodeData;

/// Elements whose content is never writeup text: scripts, styles, navigation, page
/// header/footer, embeds and form controls. (HTML comments are dropped by htmd itself; hidden
/// elements and comments of the content are cut out of the tree first, see [`prune_hidden`].)
const SKIPPED: &[&str] = &[
    "head", "script", "style", "noscript", "template", "nav", "header", "footer", "iframe",
    "object", "embed", "svg", "canvas", "form", "button", "select",
];

/// Elements that never show their content, whatever their attributes.
const NEVER_SHOWN: &[&str] = &["script", "style", "noscript", "template"];

/// A converted page.
pub(crate) struct Page {
    pub markdown: String,
    pub title: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    /// Comment nodes removed from the converted content.
    pub comments: usize,
    /// Hidden elements with text removed from the converted content ([`prune_hidden`]).
    pub hidden_elements: usize,
}

/// Converts an HTML page or fragment to Markdown (ATX headings, `-` lists).
///
/// When the page has exactly one `<main>` (else exactly one `<article>`), only that element is
/// converted. The title is the first `<h1>` of that content (outside navigation), else the
/// `<title>`. Author and date come from `<meta name="author">`, `<meta name="date">`,
/// `article:published_time` / `datePublished`, or a `<time pubdate>` / `<time datetime>`.
pub(crate) fn convert(html: &str) -> std::io::Result<Page> {
    let converter = HtmlToMarkdown::builder()
        .options(Options {
            bullet_list_marker: BulletListMarker::Dash,
            ul_bullet_spacing: 1,
            ol_number_spacing: 1,
            ..Options::default()
        })
        .skip_tags(SKIPPED.to_vec())
        .build();
    let tree = converter.html_to_tree(html)?;

    let mains = find_all(&tree, "main");
    let articles = find_all(&tree, "article");
    let root = match (mains.as_slice(), articles.as_slice()) {
        ([main], _) => main.clone(),
        (_, [article]) => article.clone(),
        _ => tree.clone(),
    };
    let pruned = prune_hidden(&root);

    // The first <h1> of the content, ignoring navigation and (when the content is the whole
    // page) the site header, which often holds the site's name as an <h1>.
    let whole_page = Rc::ptr_eq(&root, &tree);
    let title = find_first(&root, "h1", &|tag| {
        matches!(
            tag,
            "nav" | "footer" | "aside" | "script" | "style" | "template"
        ) || (whole_page && tag == "header")
    })
    .map(|h1| text_of(&h1))
    .filter(|t| !t.is_empty())
    .or_else(|| {
        find_first(&tree, "title", &|_| false)
            .map(|t| text_of(&t))
            .filter(|t| !t.is_empty())
    });

    let mut author = None;
    let mut date = None;
    for meta in find_all(&tree, "meta") {
        let key = attr(&meta, "name")
            .or_else(|| attr(&meta, "property"))
            .or_else(|| attr(&meta, "itemprop"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let Some(content) = attr(&meta, "content").filter(|c| !c.trim().is_empty()) else {
            continue;
        };
        match key.as_str() {
            "author" | "article:author" | "dc.creator" if author.is_none() => {
                author = Some(content);
            }
            "date" | "dc.date" | "article:published_time" | "datepublished" if date.is_none() => {
                date = Some(content);
            }
            _ => {}
        }
    }
    if date.is_none() {
        // A publication `<time>`: marked `pubdate`, or the first with a `datetime`.
        let times = find_all(&tree, "time");
        date = times
            .iter()
            .find(|t| attr(t, "pubdate").is_some())
            .or_else(|| times.iter().find(|t| attr(t, "datetime").is_some()))
            .and_then(|t| {
                attr(t, "datetime")
                    .filter(|d| !d.trim().is_empty())
                    .or_else(|| Some(text_of(t)).filter(|d| !d.is_empty()))
            });
    }

    let markdown = converter.tree_to_markdown(&root);
    Ok(Page {
        markdown,
        title,
        author,
        date,
        comments: pruned.comments,
        hidden_elements: pruned.hidden_elements,
    })
}

/// What [`prune_hidden`] removed.
#[derive(Debug, Default)]
struct Pruned {
    comments: usize,
    hidden_elements: usize,
}

/// Cuts out of the tree under `root` what a reader of the page never sees, so that neither the
/// Markdown nor the title holds it: comment nodes, and elements that are [`hidden`] or
/// [`NEVER_SHOWN`]. Counts the comments, and the hidden elements that held some text (an empty
/// `<script src=…>` or icon is not worth a mention). `<head>` and the other [`SKIPPED`] elements
/// are left as they are: htmd never converts them, so nothing in them is counted.
fn prune_hidden(root: &Rc<Node>) -> Pruned {
    let mut pruned = Pruned::default();
    let mut stack = vec![root.clone()];
    while let Some(node) = stack.pop() {
        node.children
            .borrow_mut()
            .retain(|child| match &child.data {
                NodeData::Comment { .. } => {
                    pruned.comments += 1;
                    false
                }
                NodeData::Element { name, .. } => {
                    let tag = &*name.local;
                    if NEVER_SHOWN.contains(&tag) || hidden(child) {
                        pruned.hidden_elements += usize::from(has_text(child));
                        return false;
                    }
                    if !SKIPPED.contains(&tag) {
                        stack.push(child.clone());
                    }
                    true
                }
                _ => true,
            });
    }
    pruned
}

/// True when the element's own attributes hide it: `hidden` (but not `hidden="until-found"`,
/// which find-in-page reveals), `aria-hidden="true"`, or an inline style with `display: none`
/// or `visibility: hidden`/`collapse`. What a style sheet hides is out of reach (see
/// `types::HiddenText`).
fn hidden(node: &Node) -> bool {
    if attr(node, "hidden").is_some_and(|v| !v.trim().eq_ignore_ascii_case("until-found")) {
        return true;
    }
    if attr(node, "aria-hidden").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return true;
    }
    let Some(style) = attr(node, "style") else {
        return false;
    };
    style.split(';').any(|decl| {
        let Some((prop, value)) = decl.split_once(':') else {
            return false;
        };
        let value = value.to_ascii_lowercase();
        let value = value.trim().trim_end_matches("!important").trim();
        match prop.trim().to_ascii_lowercase().as_str() {
            "display" => value == "none",
            "visibility" => value == "hidden" || value == "collapse",
            _ => false,
        }
    })
}

/// True when some text node under `node` (a `<template>`'s contents included) is not blank.
fn has_text(node: &Rc<Node>) -> bool {
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        match &n.data {
            NodeData::Text { contents } if !contents.borrow().trim().is_empty() => return true,
            NodeData::Element {
                template_contents, ..
            } => {
                if let Some(t) = template_contents.borrow().as_ref() {
                    stack.push(t.clone());
                }
            }
            _ => {}
        }
        stack.extend(n.children.borrow().iter().cloned());
    }
    false
}

fn tag_name(node: &Node) -> Option<&str> {
    match &node.data {
        NodeData::Element { name, .. } => Some(&name.local),
        _ => None,
    }
}

fn attr(node: &Node, want: &str) -> Option<String> {
    match &node.data {
        NodeData::Element { attrs, .. } => attrs
            .borrow()
            .iter()
            .find(|a| a.name.local.as_ref().eq_ignore_ascii_case(want))
            .map(|a| a.value.to_string()),
        _ => None,
    }
}

/// All elements named `tag` under `node`, in document order.
fn find_all(node: &Rc<Node>, tag: &str) -> Vec<Rc<Node>> {
    let mut out = Vec::new();
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        if tag_name(&n) == Some(tag) {
            out.push(n.clone());
        }
        stack.extend(n.children.borrow().iter().rev().cloned());
    }
    out
}

/// The first element named `tag` under `node`, not descending into elements `skip` names.
fn find_first(node: &Rc<Node>, tag: &str, skip: &dyn Fn(&str) -> bool) -> Option<Rc<Node>> {
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        match tag_name(&n) {
            Some(t) if t == tag => return Some(n),
            Some(t) if skip(t) => continue,
            _ => {}
        }
        stack.extend(n.children.borrow().iter().rev().cloned());
    }
    None
}

/// The text inside `node`, whitespace collapsed.
fn text_of(node: &Rc<Node>) -> String {
    let mut raw = String::new();
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        match &n.data {
            NodeData::Text { contents } => raw.push_str(&contents.borrow()),
            NodeData::Element { name, .. } => match &*name.local {
                "script" | "style" => continue,
                "br" | "p" | "div" | "li" | "td" | "th" | "tr" | "h1" | "h2" | "h3" | "h4"
                | "h5" | "h6" => raw.push(' '),
                _ => {}
            },
            _ => {}
        }
        stack.extend(n.children.borrow().iter().rev().cloned());
    }
    crate::text::fold_space(&raw)
}
