//! The JSON report: sorted keys, pretty-printed.

use super::Report;
use crate::error::{Error, Result};

/// The report as a JSON value with sorted keys.
pub fn to_value(report: &Report) -> Result<serde_json::Value> {
    // serde_json's map is a BTreeMap (no `preserve_order`), so the round trip sorts every key.
    serde_json::to_value(report).map_err(|e| Error::failed("report serialization", e))
}

/// The report as pretty JSON text with sorted keys and a trailing newline.
pub fn render(report: &Report) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&to_value(report)?)
        .map_err(|e| Error::failed("report serialization", e))?;
    text.push('\n');
    Ok(text)
}
