//! The load generator's pure parts: trade generation, format rendering, rate profiles,
//! poison records and the run summary. The `spate-loadgen` binary only does I/O.

mod market;
mod poison;
mod profile;
mod render;
mod summary;

pub use market::{GeneratedTrade, Market};
pub use poison::PoisonKind;
pub use profile::{Pacer, Profile};
pub use render::{OutputFormat, Rendered, Renderer};
pub use summary::Summary;
