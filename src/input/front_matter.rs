//! Front matter at the very top of a file: YAML (`---`), TOML (`+++`), Pelican `Key: value`.

/// Which kind of front matter was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrontMatterKind {
    /// `---` … `---` (Jekyll, Hugo, Cobalt, …).
    Yaml,
    /// `+++` … `+++` (Hugo, Zola).
    Toml,
    /// `Title: …` lines up to a blank line (Pelican, MultiMarkdown).
    Pelican,
}

/// The metadata the pipeline uses; everything else in the front matter is dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FrontMatter {
    pub kind: Option<FrontMatterKind>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub author: Option<String>,
}

/// Keys looked up, in order of preference (case-insensitive).
const TITLE_KEYS: &[&str] = &["title"];
const DATE_KEYS: &[&str] = &[
    "date",
    "publishdate",
    "published_date",
    "pubdate",
    "published",
    "created",
];
const AUTHOR_KEYS: &[&str] = &["author", "authors"];

/// Keys that may open a Pelican/MultiMarkdown header (the first line must be one of them).
const PELICAN_KEYS: &[&str] = &[
    "title",
    "date",
    "author",
    "authors",
    "category",
    "tags",
    "slug",
    "summary",
    "modified",
    "status",
    "lang",
    "translation",
    "save_as",
    "url",
    "template",
];

/// Splits front matter off the top of `text` (LF line endings). Returns the front matter, if
/// any, and the rest of the text. `allow_pelican` enables `Key: value` headers.
pub(crate) fn split(text: &str, allow_pelican: bool) -> (Option<FrontMatter>, &str) {
    if let Some((inner, rest)) = fenced(text, "---", &["---", "..."]) {
        if let Some(fm) = parse_yaml(inner) {
            return (Some(fm), rest);
        }
    } else if let Some((inner, rest)) = fenced(text, "+++", &["+++"]) {
        return (Some(parse_toml(inner)), rest);
    } else if allow_pelican {
        if let Some((fm, rest)) = pelican(text) {
            return (Some(fm), rest);
        }
    }
    (None, text)
}

/// `text` opens with a line `open` and has a later line in `close`: (inside, after).
fn fenced<'a>(text: &'a str, open: &str, close: &[&str]) -> Option<(&'a str, &'a str)> {
    let first_end = text.find('\n')?;
    if text[..first_end].trim_end() != open {
        return None;
    }
    let inner_start = first_end + 1;
    let mut pos = inner_start;
    for line in text[inner_start..].split_inclusive('\n') {
        if close.contains(&line.trim_end()) {
            return Some((&text[inner_start..pos], &text[pos + line.len()..]));
        }
        pos += line.len();
    }
    None
}

fn parse_yaml(inner: &str) -> Option<FrontMatter> {
    use serde_norway::Value;
    let mut fm = FrontMatter {
        kind: Some(FrontMatterKind::Yaml),
        ..FrontMatter::default()
    };
    match serde_norway::from_str::<Value>(inner) {
        Ok(Value::Mapping(map)) => {
            let get = |keys: &[&str]| {
                keys.iter().find_map(|want| {
                    map.iter()
                        .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(want)))
                        .and_then(|(_, v)| yaml_text(v))
                })
            };
            fm.title = get(TITLE_KEYS);
            fm.date = get(DATE_KEYS);
            fm.author = get(AUTHOR_KEYS);
            Some(fm)
        }
        Ok(Value::Null) => Some(fm),
        // A scalar or a list between two `---` lines is a thematic break around text, not
        // front matter.
        Ok(_) => None,
        // Broken YAML that still looks like `key: value` lines: front matter with a typo. Drop
        // it and pick the fields out line by line.
        Err(_) if looks_like_key_values(inner, ':') => {
            scan_lines(inner, ':', &mut fm);
            Some(fm)
        }
        Err(_) => None,
    }
}

fn parse_toml(inner: &str) -> FrontMatter {
    let mut fm = FrontMatter {
        kind: Some(FrontMatterKind::Toml),
        ..FrontMatter::default()
    };
    match toml::from_str::<toml::Table>(inner) {
        Ok(table) => {
            let get = |keys: &[&str]| {
                keys.iter().find_map(|want| {
                    table
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(want))
                        .and_then(|(_, v)| toml_text(v))
                })
            };
            fm.title = get(TITLE_KEYS);
            fm.date = get(DATE_KEYS);
            fm.author = get(AUTHOR_KEYS);
        }
        Err(_) => scan_lines(inner, '=', &mut fm),
    }
    fm
}

/// A YAML value as text: scalars as written, lists joined with `, `, a mapping by its `name`.
fn yaml_text(v: &serde_norway::Value) -> Option<String> {
    use serde_norway::Value;
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Sequence(items) => items
            .iter()
            .filter_map(yaml_text)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Mapping(map) => map
            .iter()
            .find(|(k, _)| k.as_str() == Some("name"))
            .and_then(|(_, v)| yaml_text(v))?,
        Value::Tagged(tagged) => yaml_text(&tagged.value)?,
        Value::Null | Value::Bool(_) => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn toml_text(v: &toml::Value) -> Option<String> {
    use toml::Value;
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(items) => items
            .iter()
            .filter_map(toml_text)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Table(t) => t.get("name").and_then(toml_text)?,
        Value::Boolean(_) => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// The first non-blank line is `key<sep> …` with a word-like key.
fn looks_like_key_values(inner: &str, sep: char) -> bool {
    inner
        .lines()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| l.split_once(sep))
        .is_some_and(|(k, _)| is_key(k.trim()))
}

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// Line-by-line fallback for front matter that does not parse: `title: "x"` / `title = "x"`.
fn scan_lines(inner: &str, sep: char, fm: &mut FrontMatter) {
    for line in inner.lines() {
        if line.starts_with(char::is_whitespace) {
            continue;
        }
        let Some((key, value)) = line.split_once(sep) else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = unquote(value.trim());
        if value.is_empty() {
            continue;
        }
        let slot = if TITLE_KEYS.contains(&key.as_str()) {
            &mut fm.title
        } else if DATE_KEYS.contains(&key.as_str()) {
            &mut fm.date
        } else if AUTHOR_KEYS.contains(&key.as_str()) {
            &mut fm.author
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = Some(value.to_string());
        }
    }
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

/// Pelican/MultiMarkdown metadata: the first line is `Key: value` with a known key, then more
/// `Key: value` lines (indented lines continue a value) up to a blank line or the end.
fn pelican(text: &str) -> Option<(FrontMatter, &str)> {
    let mut fm = FrontMatter {
        kind: Some(FrontMatterKind::Pelican),
        ..FrontMatter::default()
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end();
        if content.trim().is_empty() {
            if fields.is_empty() {
                return None;
            }
            pos += line.len();
            break;
        }
        if content.starts_with(char::is_whitespace) {
            let (_, value) = fields.last_mut()?;
            value.push(' ');
            value.push_str(content.trim());
        } else {
            let (key, value) = content.split_once(':')?;
            let key = key.trim().to_ascii_lowercase();
            if !is_key(&key) || key.contains(char::is_whitespace) {
                return None;
            }
            if fields.is_empty() && !PELICAN_KEYS.contains(&key.as_str()) {
                return None;
            }
            fields.push((key, value.trim().to_string()));
        }
        pos += line.len();
    }
    let get = |keys: &[&str]| {
        keys.iter().find_map(|want| {
            fields
                .iter()
                .find(|(k, v)| k == want && !v.is_empty())
                .map(|(_, v)| v.clone())
        })
    };
    fm.title = get(TITLE_KEYS);
    fm.date = get(DATE_KEYS);
    fm.author = get(AUTHOR_KEYS);
    Some((fm, &text[pos..]))
}
