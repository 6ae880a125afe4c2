//! Redaction: values of `redact` columns never reach a report, a diff file or the history.
//! Wherever such a value would appear, a short digest stands in, equal for equal values so that
//! samples can still be correlated.

use std::collections::BTreeSet;

use serde_json::Value;

/// The columns to redact (legacy names, or result column names for checks).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    columns: BTreeSet<String>,
}

impl Redactor {
    /// Redacts these columns.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(columns: I) -> Self {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether a column is redacted.
    pub fn applies(&self, column: &str) -> bool {
        self.columns.contains(column)
    }

    /// The value to show for `column`.
    pub fn value(&self, column: &str, v: Value) -> Value {
        match v {
            Value::Null => Value::Null,
            Value::String(s) if self.applies(column) => Value::String(digest(&s)),
            v if self.applies(column) => Value::String(digest(&v.to_string())),
            v => v,
        }
    }

    /// The text to show for `column` (NULL stays `None`).
    pub fn text(&self, column: &str, v: Option<String>) -> Option<String> {
        v.map(|v| if self.applies(column) { digest(&v) } else { v })
    }
}

/// `redacted:` and 8 hex digits of a keyed xxh3 of the value.
pub fn digest(text: &str) -> String {
    format!(
        "redacted:{:08x}",
        xxhash_rust::xxh3::xxh3_64_with_seed(text.as_bytes(), 0x7265_6461_6374) >> 32
    )
}
