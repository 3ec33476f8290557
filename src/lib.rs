//! takeaways: turn a long conference writeup into a short, ranked list of key takeaways with a
//! model served by a local Ollama.
//!
//! The pipeline flows one way, one module per stage, plain data types between them:
//!
//! ```text
//! file/stdin ─► input ─► split ─► extract (map) ─► rank (reduce) ─► render
//!              Document  Vec<Chunk>  Vec<Candidate>    Summary        text
//! ```
//!
//! `prompts` renders the templates, `llm` makes the model calls (live, recorded or replayed),
//! `pipeline` wires the stages for one document, and `cli` holds the command-line surface.

pub mod batch;
pub mod cache;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod extract;
pub mod input;
pub mod llm;
pub mod pipeline;
pub mod progress;
pub mod prompts;
pub mod rank;
pub mod render;
pub mod split;
pub mod tokens;
