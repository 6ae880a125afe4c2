//! The two sides of a migration. Every structure that holds something per side is indexed by
//! [`Side`], never by "old/new" or "a/b".

use std::fmt;

use serde::{Deserialize, Serialize};

/// One side of the migration.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The system being left (often MySQL/MariaDB).
    Legacy,
    /// The system being moved to (often `PostgreSQL`).
    Target,
}

impl Side {
    /// Both sides, legacy first.
    pub const BOTH: [Side; 2] = [Side::Legacy, Side::Target];

    /// The lowercase name used in reports, SQL schemas and config.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Legacy => "legacy",
            Side::Target => "target",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value per side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PerSide<T> {
    /// The legacy side's value.
    pub legacy: T,
    /// The target side's value.
    pub target: T,
}

impl<T> PerSide<T> {
    /// Builds a pair from the two values.
    pub fn new(legacy: T, target: T) -> Self {
        Self { legacy, target }
    }

    /// The value of one side.
    pub fn get(&self, side: Side) -> &T {
        match side {
            Side::Legacy => &self.legacy,
            Side::Target => &self.target,
        }
    }

    /// The value of one side, mutably.
    pub fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Legacy => &mut self.legacy,
            Side::Target => &mut self.target,
        }
    }
}
