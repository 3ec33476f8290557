//! Bytes → text: byte-order marks, UTF-8, UTF-16, legacy encodings, line endings.

use encoding_rs::{Encoding, ISO_2022_JP, REPLACEMENT, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

use super::InputError;

/// Decoded text and how it was decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text: no byte-order mark, LF line endings (CRLF and lone CR are turned into LF).
    pub text: String,
    /// How it was decoded, for diagnostics: `UTF-8`, `UTF-8 (BOM)`, `UTF-16LE (BOM)`,
    /// `windows-1252 (detected)`, `UTF-8 + windows-1252 (mixed)`, `Shift_JIS (--encoding)`.
    pub encoding: String,
}

/// Decodes `bytes` (named `source` in errors) to text with LF line endings.
///
/// - `label` (`--encoding`) wins when given: any WHATWG label (`utf-8`, `windows-1252`,
///   `latin1`, `shift_jis`, `utf-16le`, …); bytes that are invalid in it are an error.
/// - Otherwise a byte-order mark decides (UTF-8, UTF-16LE, UTF-16BE; the mark is dropped).
/// - Otherwise valid UTF-8 is UTF-8.
/// - Otherwise the legacy encoding that chardetng detects (Windows-1252 quotes and dashes come
///   out as “ ” —, never U+FFFD). A file that is mostly UTF-8 with a few stray legacy bytes
///   (edited with two editors) keeps its UTF-8 and only the stray bytes go through the legacy
///   encoding.
///
/// NUL bytes outside UTF-16 make it [`InputError::Binary`].
pub fn decode(source: &str, bytes: &[u8], label: Option<&str>) -> Result<Decoded, InputError> {
    let (text, encoding) = match label {
        Some(label) => decode_forced(source, bytes, label)?,
        None => decode_detected(source, bytes)?,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let text = normalize_newlines(text);
    Ok(Decoded { text, encoding })
}

fn binary(source: &str) -> InputError {
    InputError::Binary(source.to_string())
}

fn is_utf16(enc: &'static Encoding) -> bool {
    enc == UTF_16LE || enc == UTF_16BE
}

fn decode_forced(source: &str, bytes: &[u8], label: &str) -> Result<(String, String), InputError> {
    let enc = Encoding::for_label(label.trim().as_bytes())
        .filter(|enc| *enc != REPLACEMENT)
        .ok_or_else(|| InputError::UnknownEncoding {
            source_name: source.to_string(),
            label: label.to_string(),
        })?;
    if !is_utf16(enc) && bytes.contains(&0) {
        return Err(binary(source));
    }
    let (text, had_errors) = enc.decode_with_bom_removal(bytes);
    if had_errors {
        let offset = first_error_offset(enc, bytes);
        return Err(InputError::Undecodable {
            source_name: source.to_string(),
            encoding: enc.name().to_string(),
            offset,
        });
    }
    if text.contains('\0') {
        return Err(binary(source));
    }
    Ok((text.into_owned(), format!("{} (--encoding)", enc.name())))
}

/// Byte offset of the first malformed sequence of `bytes` in `enc` (0 when not found).
fn first_error_offset(enc: &'static Encoding, bytes: &[u8]) -> usize {
    let start = match Encoding::for_bom(bytes) {
        Some((bom_enc, len)) if bom_enc == enc => len,
        _ => 0,
    };
    if enc == UTF_8 {
        return match std::str::from_utf8(&bytes[start..]) {
            Ok(_) => 0,
            Err(e) => start + e.valid_up_to(),
        };
    }
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(64);
    let mut pos = start;
    // Feed one byte at a time until the decoder reports a malformed sequence.
    while pos < bytes.len() {
        out.clear();
        let last = pos + 1 == bytes.len();
        let (result, read) =
            decoder.decode_to_string_without_replacement(&bytes[pos..=pos], &mut out, last);
        if let encoding_rs::DecoderResult::Malformed(..) = result {
            return pos;
        }
        pos += read.max(1);
    }
    0
}

fn decode_detected(source: &str, bytes: &[u8]) -> Result<(String, String), InputError> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let rest = &bytes[bom_len..];
        if is_utf16(enc) {
            let (text, _) = enc.decode_without_bom_handling(rest);
            if text.contains('\0') {
                return Err(binary(source));
            }
            return Ok((text.into_owned(), format!("{} (BOM)", enc.name())));
        }
        if rest.contains(&0) {
            return Err(binary(source));
        }
        if let Ok(text) = std::str::from_utf8(rest) {
            return Ok((text.to_string(), "UTF-8 (BOM)".to_string()));
        }
        // A UTF-8 BOM on bytes that are not UTF-8: fall through to detection.
        let (text, name) = decode_legacy(rest);
        return Ok((text, name));
    }
    if bytes.contains(&0) {
        return Err(binary(source));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        // ISO-2022-JP is 7-bit, so it is valid UTF-8; its escape sequences give it away.
        if text.contains("\u{1b}$B") || text.contains("\u{1b}$@") {
            let (text, _) = ISO_2022_JP.decode_without_bom_handling(bytes);
            return Ok((text.into_owned(), "ISO-2022-JP (detected)".to_string()));
        }
        return Ok((text.to_string(), "UTF-8".to_string()));
    }
    Ok(decode_legacy(bytes))
}

/// Bytes that are not valid UTF-8: the chardetng guess, or UTF-8 with stray legacy bytes.
fn decode_legacy(bytes: &[u8]) -> (String, String) {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let guess = detector.guess(None, false);

    // Count real UTF-8 (non-ASCII characters) against malformed bytes: a file that is mostly
    // UTF-8 with a few stray legacy bytes is decoded piecewise.
    let mut utf8_non_ascii = 0usize;
    let mut invalid = 0usize;
    for chunk in bytes.utf8_chunks() {
        utf8_non_ascii += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += chunk.invalid().len();
    }
    if utf8_non_ascii > invalid {
        let stray = if guess.is_single_byte() {
            guess
        } else {
            WINDOWS_1252
        };
        let mut text = String::with_capacity(bytes.len());
        for chunk in bytes.utf8_chunks() {
            text.push_str(chunk.valid());
            if !chunk.invalid().is_empty() {
                let (piece, _) = stray.decode_without_bom_handling(chunk.invalid());
                text.push_str(&piece);
            }
        }
        return (text, format!("UTF-8 + {} (mixed)", stray.name()));
    }
    let enc = if guess == UTF_8 { WINDOWS_1252 } else { guess };
    let (text, _) = enc.decode_without_bom_handling(bytes);
    (text.into_owned(), format!("{} (detected)", enc.name()))
}

/// CRLF and lone CR → LF.
fn normalize_newlines(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_string();
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}
