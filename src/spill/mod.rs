//! What the diff and the history keep on disk rather than in memory: the differing keys of a table
//! ([`keylog`]) and records bucketed by position ([`spool`]). Below both, so that the history reads
//! the diff's key log without reaching into the diff.

pub mod keylog;
pub(crate) mod spool;

pub use keylog::{DiffKey, KeyLog};
