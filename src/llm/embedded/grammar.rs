//! `ChatRequest::format` (Ollama's `format`) → a llama.cpp GBNF grammar for the grammar sampler.
//!
//! Ollama passes a JSON schema to llama-server's `json_schema` field and the string `"json"` as
//! its own object grammar (`llm/llama_server.go`, 2026-08); llama-server turns the schema into
//! GBNF with `json_schema_to_grammar` (llama.cpp `common/json-schema-to-grammar.cpp`). This
//! module does the same through llama-cpp-2's binding of that function (feature `common`), so
//! the embedded engine constrains answers exactly as Ollama does.

use serde_json::Value;

use crate::llm::LlmError;

/// The grammar for `format: "json"`: any JSON object, as Ollama's `grammarJSON` (an object at the
/// root, any JSON values inside, optional whitespace after punctuation).
pub const JSON_OBJECT_GRAMMAR: &str = r#"root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
array  ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] ) )* "\"" ws
number ::= "-"? ( [0-9] | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )? ws
ws     ::= ( [ \t\n] ws )?
"#;

/// The grammar root rule name `json_schema_to_grammar` and [`JSON_OBJECT_GRAMMAR`] use.
pub const ROOT: &str = "root";

/// The GBNF grammar for a request's `format`, or `None` for free text.
///
/// - `None`, JSON `null` or `""` → `None` (no constraint);
/// - `"json"` → [`JSON_OBJECT_GRAMMAR`];
/// - a JSON object → llama.cpp's `json_schema_to_grammar(schema)` (supports `$defs`/`$ref`,
///   `required`, `enum`, `minItems`/`maxItems`, `minLength`/`maxLength`, integer
///   `minimum`/`maximum`, …; unknown keywords such as `description` or `format` are ignored).
///
/// Errors: [`LlmError::Engine`] for any other value (as Ollama: "invalid format") or a schema
/// llama.cpp cannot convert (its C++ exception text is not passed through the binding, so the
/// message can only say that it failed).
pub fn grammar_for_format(format: Option<&Value>) -> Result<Option<String>, LlmError> {
    match format {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s == "json" => Ok(Some(JSON_OBJECT_GRAMMAR.to_owned())),
        Some(schema @ Value::Object(_)) => {
            let text = schema.to_string();
            llama_cpp_2::json_schema_to_grammar(&text)
                .map(Some)
                .map_err(|e| LlmError::Engine {
                    detail: format!(
                        "llama.cpp could not turn the format JSON schema into a grammar ({e}); \
                         schema: {}",
                        shorten(&text, 300)
                    ),
                })
        }
        Some(other) => Err(LlmError::Engine {
            detail: format!(
                "invalid format {}; expected \"json\" or a JSON schema object",
                shorten(&other.to_string(), 100)
            ),
        }),
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank_schema() -> Value {
        serde_json::json!({
            "type": "object",
            "properties": {"order": {"type": "array", "items": {"type": "integer", "minimum": 0}}},
            "required": ["order"]
        })
    }

    #[test]
    fn no_format_means_no_grammar() {
        assert_eq!(grammar_for_format(None).unwrap(), None);
        assert_eq!(grammar_for_format(Some(&Value::Null)).unwrap(), None);
        assert_eq!(grammar_for_format(Some(&Value::from(""))).unwrap(), None);
    }

    #[test]
    fn json_string_is_the_object_grammar() {
        let g = grammar_for_format(Some(&Value::from("json")))
            .unwrap()
            .unwrap();
        assert_eq!(g, JSON_OBJECT_GRAMMAR);
    }

    #[test]
    fn other_values_are_rejected() {
        for bad in [Value::from("yaml"), Value::from(3), serde_json::json!([1])] {
            let err = grammar_for_format(Some(&bad)).unwrap_err();
            assert!(err.to_string().contains("invalid format"), "{err}");
        }
    }

    #[test]
    fn rank_schema_converts() {
        let g = grammar_for_format(Some(&rank_schema())).unwrap().unwrap();
        assert!(g.contains("root ::="), "{g}");
        assert!(g.contains("\\\"order\\\""), "{g}");
    }
}
