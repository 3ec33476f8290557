//! The language a writeup is written in, and so the language its takeaways are written in
//! (detected with the whatlang crate: trigram profiles of 69 languages, no model files), and the
//! codes `--language` accepts.

use whatlang::{Detector, Lang};

/// ISO 639-1 codes of the languages whatlang knows that have one (the rest are shown in ISO
/// 639-3, whatlang's own codes).
const ISO_639_1: &[(Lang, &str)] = &[
    (Lang::Eng, "en"),
    (Lang::Fra, "fr"),
    (Lang::Deu, "de"),
    (Lang::Spa, "es"),
    (Lang::Por, "pt"),
    (Lang::Ita, "it"),
    (Lang::Nld, "nl"),
    (Lang::Rus, "ru"),
    (Lang::Ukr, "uk"),
    (Lang::Pol, "pl"),
    (Lang::Ces, "cs"),
    (Lang::Slk, "sk"),
    (Lang::Slv, "sl"),
    (Lang::Hrv, "hr"),
    (Lang::Srp, "sr"),
    (Lang::Bul, "bg"),
    (Lang::Mkd, "mk"),
    (Lang::Bel, "be"),
    (Lang::Ron, "ro"),
    (Lang::Hun, "hu"),
    (Lang::Fin, "fi"),
    (Lang::Est, "et"),
    (Lang::Lit, "lt"),
    (Lang::Lav, "lv"),
    (Lang::Swe, "sv"),
    (Lang::Dan, "da"),
    (Lang::Nob, "nb"),
    (Lang::Ell, "el"),
    (Lang::Tur, "tr"),
    (Lang::Cmn, "zh"),
    (Lang::Jpn, "ja"),
    (Lang::Kor, "ko"),
    (Lang::Ara, "ar"),
    (Lang::Heb, "he"),
    (Lang::Yid, "yi"),
    (Lang::Hin, "hi"),
    (Lang::Ben, "bn"),
    (Lang::Urd, "ur"),
    (Lang::Pes, "fa"),
    (Lang::Tha, "th"),
    (Lang::Vie, "vi"),
    (Lang::Ind, "id"),
    (Lang::Tgl, "tl"),
    (Lang::Cat, "ca"),
    (Lang::Cym, "cy"),
    (Lang::Lat, "la"),
    (Lang::Afr, "af"),
    (Lang::Epo, "eo"),
    (Lang::Kat, "ka"),
    (Lang::Hye, "hy"),
    (Lang::Aze, "az"),
    (Lang::Uzb, "uz"),
    (Lang::Tam, "ta"),
    (Lang::Tel, "te"),
    (Lang::Kan, "kn"),
    (Lang::Mal, "ml"),
    (Lang::Mar, "mr"),
    (Lang::Guj, "gu"),
    (Lang::Pan, "pa"),
    (Lang::Nep, "ne"),
    (Lang::Sin, "si"),
    (Lang::Khm, "km"),
    (Lang::Mya, "my"),
    (Lang::Amh, "am"),
    (Lang::Zul, "zu"),
    (Lang::Sna, "sn"),
    (Lang::Jav, "jv"),
];

/// A language: what the prompt names, and what the JSON output says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language(Lang);

/// Shown when nothing can be detected (too little text): English, the prompt's own language.
pub const ENGLISH: Language = Language(Lang::Eng);

/// How many bytes of the body detection reads: enough for a reliable trigram profile, and the
/// start of a writeup is its own language (quoted code and references come later).
const DETECT_BYTES: usize = 20_000;

impl Language {
    /// The code shown in the JSON output: ISO 639-1 (`fr`) where the language has one, else ISO
    /// 639-3 (`tuk`).
    pub fn code(self) -> &'static str {
        ISO_639_1
            .iter()
            .find(|(l, _)| *l == self.0)
            .map_or(self.0.code(), |(_, c)| c)
    }

    /// The English name, as the prompt names it (`French`, `Japanese`, `Mandarin`).
    pub fn name(self) -> &'static str {
        match self.0 {
            // whatlang calls it Mandarin; "Chinese" is what a model reads best.
            Lang::Cmn => "Chinese",
            other => other.eng_name(),
        }
    }

    /// A language from a code or name as given to `--language`: ISO 639-1 (`fr`), ISO 639-3
    /// (`fra`), or the English name (`french`, any case). `None` when unknown.
    pub fn from_code(code: &str) -> Option<Language> {
        let code = code.trim().to_lowercase();
        if let Some((l, _)) = ISO_639_1.iter().find(|(_, c)| *c == code) {
            return Some(Language(*l));
        }
        if let Some(l) = Lang::from_code(code.as_str()) {
            return Some(Language(l));
        }
        if code == "chinese" {
            return Some(Language(Lang::Cmn));
        }
        Lang::all()
            .iter()
            .find(|l| l.eng_name().eq_ignore_ascii_case(&code))
            .map(|l| Language(*l))
    }

    /// The language `text` is written in; [`ENGLISH`] when whatlang cannot tell.
    pub fn detect(text: &str) -> Language {
        let mut end = text.len().min(DETECT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        whatlang::detect(&text[..end]).map_or(ENGLISH, |info| Language(info.lang()))
    }

    /// Whether a short `headline` is written in `self` rather than in `other`: whatlang
    /// restricted to the two, so that even a few words can be told apart. Always true when the
    /// two are the same language.
    pub fn holds(self, headline: &str, other: Language) -> bool {
        if self == other {
            return true;
        }
        Detector::with_allowlist(vec![self.0, other.0])
            .detect_lang(headline)
            .is_none_or(|l| l == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names() {
        let fr = Language::from_code("fr").unwrap();
        assert_eq!((fr.code(), fr.name()), ("fr", "French"));
        assert_eq!(Language::from_code("fra"), Some(fr));
        assert_eq!(Language::from_code("French"), Some(fr));
        assert_eq!(Language::from_code("zh").unwrap().name(), "Chinese");
        assert_eq!(Language::from_code("klingon"), None);
    }

    #[test]
    fn detects_the_writeup_and_tells_short_headlines_apart() {
        let de = Language::detect(
            "Streaming lohne sich nur dort, wo eine Entscheidung wirklich innerhalb von Minuten \
             fällt. Für alles andere reicht ein nächtlicher Batch-Lauf völlig aus.",
        );
        assert_eq!(de.code(), "de");
        assert!(!de.holds("Batch processing is more efficient", ENGLISH));
        assert!(de.holds("Batch-Verarbeitung ist effizienter als gedacht", ENGLISH));
        assert!(ENGLISH.holds("anything", ENGLISH));
    }
}
