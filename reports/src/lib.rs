//! # Rebalanser's results
//!
//! The room where the checkers' results meet. It runs the checkers in-process (the model
//! checker, the simulator, TLC) through their libraries, holds the typed result of every
//! command (`Serialize` + `Deserialize`, each with `schema_version`), and writes them as
//! text for a terminal and, for `rebalanser report`, as Markdown, JUnit and HTML.
//!
//! It may depend on every checker crate (`protocol`, `model`, `sim`, `tla`); none depends on
//! it, and it holds no protocol rule: a judgement (a property, settled, a write's legality) is
//! asked of `protocol`. The CLI parses arguments, calls [`run`], prints the text and writes
//! the result.

pub mod files;
pub mod report;
pub mod result;
pub mod run;
pub mod text;
