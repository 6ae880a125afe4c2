//! `recon gen`: a synthetic migration of a workshop/booking ERP. The legacy snapshot is shaped like
//! a `MySQL` export (INT keys, DECIMAL money, naive DATETIME in local time, TINYINT(1) flags, Arabic
//! and English text); the target like a `PostgreSQL` one (renamed tables and columns, timestamptz,
//! booleans, wider decimals). Drift of every kind is planted at known rows, and the truth — the
//! counts a correct reconciliation must report — is written beside the snapshots with a matching
//! `recon.toml`. Every value is a pure function of (seed, row, column), so output is reproducible
//! and the target can be written in shuffled order.

mod model;
mod specs;
mod truth;
pub mod values;
mod write;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use specs::specs;
use truth::new_orphans;
pub use truth::{TableTruth, Truth};
use write::{write_file, write_pair};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Four related ERP tables with every kind of drift (the demo).
    Erp,
    /// One 15-column service_orders-like table for benchmarks.
    Bench,
}

/// Generator settings.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Service orders (other tables scale from it).
    pub rows: u64,
    /// Seed of every value.
    pub seed: u64,
    /// Which data set.
    pub profile: Profile,
    /// Rows per row group.
    pub row_group: usize,
}

/// Writes the snapshots, `recon.toml` and `truth.json` into `out`; returns the truth.
pub fn generate(out: &Path, opts: &GenOptions) -> Result<Truth> {
    let mut truth = Truth::default();
    let mut written = BTreeMap::new();
    let specs = specs(opts.rows, opts.profile);
    for spec in &specs {
        let (t, w) = write_pair(out, spec, opts)?;
        truth.tables.insert(spec.name.to_owned(), t);
        written.insert(spec.name, w);
    }
    if let (Some(inv), Some(orders)) = (
        specs.iter().find(|s| s.name == "invoices"),
        written.get("service_orders"),
    ) && let Some(w) = written.get("invoices")
    {
        truth.checks.insert(
            "orphans.invoices.order_id.service_orders".into(),
            new_orphans(inv, w, orders),
        );
    }
    let text = serde_json::to_string_pretty(&truth)
        .map_err(|e| Error::failed("serializing the truth", e))?;
    write_file(&out.join("truth.json"), format!("{text}\n").as_bytes())?;
    write_file(
        &out.join("recon.toml"),
        config_text(opts.profile).as_bytes(),
    )?;
    if opts.profile == Profile::Bench {
        write_file(&out.join("checks.toml"), bench_checks_text().as_bytes())?;
    }
    if opts.profile == Profile::Erp {
        for (name, sql) in GOLDEN {
            write_file(&out.join("queries").join(name), sql.as_bytes())?;
        }
    }
    Ok(truth)
}

/// The golden queries of `queries/`, shipped with every generated ERP migration.
pub const GOLDEN: [(&str, &str); 3] = [
    (
        "customers_by_tenant.sql",
        include_str!("../../queries/customers_by_tenant.sql"),
    ),
    (
        "revenue_by_tenant.legacy.sql",
        include_str!("../../queries/revenue_by_tenant.legacy.sql"),
    ),
    (
        "revenue_by_tenant.target.sql",
        include_str!("../../queries/revenue_by_tenant.target.sql"),
    ),
];

fn config_text(profile: Profile) -> String {
    match profile {
        Profile::Bench => include_str!("templates/bench.toml"),
        Profile::Erp => include_str!("templates/erp.toml"),
    }
    .to_owned()
}

/// The bench's checks config: counts, totals and an orphan check over the bench tables.
fn bench_checks_text() -> &'static str {
    include_str!("templates/bench_checks.toml")
}
