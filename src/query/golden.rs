//! A golden query of a config run on both sides and laid out side by side, as
//! `recon query --golden NAME` prints it: key columns, each value column per side, and what
//! differs. Values of redacted columns show as digests, as in the report.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::{QueryError, QuerySession};
use crate::checks::GoldenQuery;
use crate::checks::golden::{Compared, Row};
use crate::checks::lineage::Redaction;
use crate::checks::sql::ValueOptions;
use crate::config::LoadedConfig;
use crate::error::{Error, Result};

/// A golden query of a config, ready to run with the config's comparison options and
/// redaction.
pub struct Golden {
    query: GoldenQuery,
    options: ValueOptions,
    redaction: Redaction,
}

/// Both sides' results of a golden query, side by side.
#[derive(Debug, Clone)]
pub struct SideBySide {
    /// One row per key: the key columns, `column (legacy)` and `column (target)` per value
    /// column, and `diff` (`missing`, `extra`, `≠ columns`, or empty), all text.
    pub table: RecordBatch,
    /// Rows that differ.
    pub differing: usize,
}

impl Golden {
    /// The golden query `name` of the config's `[golden] dir`.
    pub fn find(loaded: &LoadedConfig, name: &str) -> Result<Self> {
        let Some(g) = &loaded.config.golden else {
            return Err(Error::Invalid(format!(
                "{}: no [golden] dir configured",
                loaded.path.display()
            )));
        };
        let mut queries = crate::checks::load_golden(&loaded.base_dir.join(&g.dir))?;
        let Some(at) = queries.iter().position(|q| q.name == name) else {
            let names: Vec<&str> = queries.iter().map(|q| q.name.as_str()).collect();
            return Err(Error::Invalid(format!(
                "no golden query `{name}`; there are: {}",
                names.join(", ")
            )));
        };
        let key = Arc::new(crate::redact::RedactionKey::per_run()?);
        Ok(Self {
            query: queries.swap_remove(at),
            options: ValueOptions::new(&loaded.config),
            redaction: Redaction::from_config(&loaded.config, key),
        })
    }

    /// Its name (the check id is `golden.<name>`).
    pub fn name(&self) -> &str {
        &self.query.name
    }

    /// The file(s) it came from.
    pub fn source(&self) -> &str {
        &self.query.source
    }
}

impl QuerySession<'_> {
    /// Runs a golden query on both sides, each in a session over its own snapshot, compares the
    /// results as the golden check does, and lays them out side by side.
    pub fn golden_side_by_side(
        &self,
        golden: &Golden,
    ) -> std::result::Result<SideBySide, QueryError> {
        let compared = self.golden(&golden.query, &golden.options, &golden.redaction)?;
        side_by_side(&golden.query, &compared)
            .map_err(|e| QueryError::Open(Error::failed("the side-by-side table", e)))
    }
}

fn side_by_side(
    q: &GoldenQuery,
    compared: &Compared,
) -> std::result::Result<SideBySide, arrow::error::ArrowError> {
    let value_cols: Vec<&String> = compared
        .columns
        .iter()
        .filter(|c| !q.key.contains(c))
        .collect();
    let mut headers: Vec<String> = q.key.clone();
    for c in &value_cols {
        headers.push(format!("{c} (legacy)"));
        headers.push(format!("{c} (target)"));
    }
    headers.push("diff".into());
    let cell = |r: Option<&Row>, c: &str| -> String {
        match r {
            None => "-".into(),
            Some(r) => r.get(c).cloned().flatten().unwrap_or_else(|| "NULL".into()),
        }
    };
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    let mut differing = 0;
    for p in &compared.pairs {
        let keyed = p.legacy.as_ref().or(p.target.as_ref());
        for (i, k) in q.key.iter().enumerate() {
            columns[i].push(cell(keyed, k));
        }
        for (j, c) in value_cols.iter().enumerate() {
            columns[q.key.len() + 2 * j].push(cell(p.legacy.as_ref(), c));
            columns[q.key.len() + 2 * j + 1].push(cell(p.target.as_ref(), c));
        }
        let mark = match (&p.legacy, &p.target) {
            (Some(_), None) => "missing".to_owned(),
            (None, Some(_)) => "extra".to_owned(),
            _ if p.equal() => String::new(),
            _ => format!("≠ {}", p.columns.join(", ")),
        };
        if !mark.is_empty() {
            differing += 1;
        }
        columns[headers.len() - 1].push(mark);
    }
    let fields: Vec<Field> = headers
        .iter()
        .map(|h| Field::new(h, DataType::Utf8, true))
        .collect();
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|c| Arc::new(StringArray::from_iter_values(c)) as ArrayRef)
        .collect();
    let table = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    Ok(SideBySide { table, differing })
}
