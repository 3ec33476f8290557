//! takeaways: turn a long conference writeup into a short, ranked list of key takeaways with a
//! model served by a local Ollama.
//!
//! The pipeline flows one way, one module per stage, plain data types ([`types`]) between them
//! (docs/ARCHITECTURE.md has the whole picture):
//!
//! ```text
//! file/stdin ─► input ─► split ─► extract (map) ─► rank (reduce) ─► render
//!              Document  Outline,    Vec<Candidate>    Summary        text
//!                        Vec<Chunk>
//! ```
//!
//! Imports run one way: `main` → [`cli`] → [`pipeline`] / [`batch`] / [`doctor`] → the stages
//! ([`input`], [`split`], [`prompts`], [`extract`], [`rank`], [`render`]) → [`llm`] → [`cache`]
//! → the plain modules (the engine choice, [`engine`], sits beside the stages, above [`llm`]) ([`types`], [`text`], [`tokens`], [`atomic`], [`exit`]).

pub mod atomic;
pub mod batch;
pub mod cache;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod engine;
pub mod exit;
pub mod extract;
pub mod input;
pub mod language;
pub mod llm;
pub mod pipeline;
pub mod prompts;
pub mod rank;
pub mod render;
pub mod split;
pub mod text;
pub mod tokens;
pub mod types;
