//! Reconciling one table pair: the hashing pass ([`scan`]), then per key partition
//! classification ([`merge`]) and column attribution of changed pairs from the stored digests,
//! counted as each partition is merged (`settle`, over on-disk spools), then samples and
//! `--diff-out` from a detail pass over the few rows that need it ([`detail`]).

mod attribute;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod detail;
pub mod digests;
pub mod explain;
pub mod filter;
pub mod merge;
mod ordered;
pub mod out;
pub mod partition;
pub mod result;
pub mod scan;
mod settle;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::hash::CompareAs;
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};
pub use attribute::Attribution;
use digests::DigestStore;
use merge::Candidate;
pub use partition::default_memory_budget;
use partition::{Layout, Partitions};
use result::{ChangedSample, ColumnDrift, KeySample, Samples, TableDiff};
use scan::KeyCodec;

/// How a pair is reconciled.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Bytes the match structure may use before it spills to disk.
    pub memory_budget: usize,
    /// Sample rows kept per category.
    pub samples: usize,
    /// Where `--diff-out` writes, if anywhere.
    pub diff_out: Option<PathBuf>,
    /// Where spill and digest files go (default: the system temp folder).
    pub temp_dir: Option<PathBuf>,
    /// Keep every differing key (digest and values) for the run history.
    pub keep_keys: bool,
    /// Where the legacy side's column digests come from for changed pairs.
    pub attribution: Attribution,
    /// The table's changed rows and legacy rows in the history's newest run, which
    /// [`Attribution::Auto`] decides from.
    pub previous_changed: Option<(u64, u64)>,
    /// Merge pairs whose sides are both in key order as a stream (the same report, in memory
    /// bounded by a few batches); `false` reconciles every pair through the match structure.
    pub key_order: bool,
    /// Reconcile on a cluster instead of here (the same report).
    #[cfg(feature = "cluster")]
    pub remote: Option<cluster::Remote>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self {
            memory_budget: default_memory_budget(),
            samples: 10,
            diff_out: None,
            temp_dir: None,
            keep_keys: false,
            attribution: Attribution::default(),
            key_order: true,
            previous_changed: None,
            #[cfg(feature = "cluster")]
            remote: None,
        }
    }
}

/// Reconciles one pair; `progress` is told how many rows of each side were hashed.
pub fn reconcile(
    plan: &PairPlan,
    opts: &DiffOptions,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> Result<TableDiff> {
    if plan.exact_int_key {
        run::<u64>(plan, opts, progress)
    } else {
        run::<u128>(plan, opts, progress)
    }
}

fn run<K: KeyCodec>(
    plan: &PairPlan,
    opts: &DiffOptions,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> Result<TableDiff> {
    let dir = match &opts.temp_dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .map_err(Error::Spill)?;
    let layout = scan::row_layout(plan);
    let keep_all = opts.diff_out.is_some() || opts.keep_keys;
    let spool =
        || keep_all.then(|| settle::differing_spool::<K>(plan, dir.path(), opts.memory_budget));
    let clock = std::time::Instant::now();
    let caps = (EXPLAIN_ROWS.max(opts.samples), opts.samples);
    let mut merged = None;
    #[cfg(feature = "cluster")]
    if let Some(remote) = &opts.remote {
        let differing = spool();
        let asked = cluster::Asked {
            caps,
            attribution: attribution(plan, opts),
        };
        let (totals, tally) =
            cluster::reconcile(plan, remote, &layout, &asked, differing.as_ref(), progress)?;
        tracing::info!(table = %plan.name, secs = clock.elapsed().as_secs_f64(), "reconciled on the cluster");
        merged = Some((totals, tally, PerSide::new(None, None), differing));
    }
    if merged.is_none()
        && let Some(order) = key_order::<K>(plan, opts)
    {
        let differing = spool();
        let inputs = ordered::Inputs {
            plan,
            layout: &layout,
            changed_cap: caps.0,
            cap: caps.1,
        };
        if let Some((totals, tally)) =
            ordered::reconcile(&inputs, &order, differing.as_ref(), progress)?
        {
            tracing::info!(table = %plan.name, secs = clock.elapsed().as_secs_f64(), "merged in key order");
            merged = Some((totals, tally, PerSide::new(None, None), differing));
        }
    }
    let (totals, tally, captured, differing) = if let Some(m) = merged {
        m
    } else {
        let differing = spool();
        let (totals, tally, captured) = general::<K>(
            plan,
            opts,
            &layout,
            dir.path(),
            differing.as_ref(),
            progress,
        )?;
        (totals, tally, captured, differing)
    };

    let mut t = counted(plan, &totals, &tally);
    let (changed, missing_rows, extra_rows) = tally.firsts();
    check_identities(&t)?;
    detail_pass(
        plan,
        opts.samples,
        &captured,
        (&changed, &missing_rows, &extra_rows),
        &mut t,
    )?;
    tracing::info!(table = %plan.name, secs = clock.elapsed().as_secs_f64(), "samples");
    if let Some(spool) = differing {
        out::write_differing(plan, opts, spool, &mut t)?;
    }
    Ok(t)
}

/// The key order to merge a pair in as a stream, when both sides have one and it is worth it.
fn key_order<K: KeyCodec>(plan: &PairPlan, opts: &DiffOptions) -> Option<ordered::KeyOrder> {
    let order = opts
        .key_order
        .then(|| ordered::KeyOrder::of(plan))
        .flatten()?;
    // Fewer legacy row groups than workers leave cores idle (a segment starts at a row group):
    // the merge is then worth it only where the match structure would spill.
    let rows = plan.tables.legacy.rows + plan.tables.target.rows;
    let entries = rows.saturating_mul(std::mem::size_of::<partition::Entry<K>>() as u64);
    (order.row_groups() >= rayon::current_num_threads() || entries > opts.memory_budget as u64)
        .then_some(order)
}

/// Where the legacy side's column digests come from for this pair, chosen once.
fn attribution(plan: &PairPlan, opts: &DiffOptions) -> Attribution {
    let attribution = opts.attribution.resolve(
        opts.previous_changed,
        plan.tables.legacy.rows_per_read_unit(),
    );
    tracing::info!(table = %plan.name, ?attribution, "attribution");
    attribution
}

/// What a reconciliation counted: each side's totals, the tally, and the target rows the hashing
/// pass kept for the detail pass.
type Counted<K> = (
    PerSide<scan::ScanTotals>,
    settle::Tally<K>,
    PerSide<Option<detail::Captured>>,
);

/// The general path: the hashing pass into the match structure, then each partition merged and
/// its changed pairs attributed.
fn general<K: KeyCodec>(
    plan: &PairPlan,
    opts: &DiffOptions,
    layout: &digests::RowLayout,
    dir: &std::path::Path,
    differing: Option<&crate::spill::spool::Spool<settle::Differing<K>>>,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> Result<Counted<K>> {
    let rows = PerSide::new(plan.tables.legacy.rows, plan.tables.target.rows);
    let total = rows.legacy + rows.target;
    let side = |r: u64| -> Result<(Partitions<K>, DigestStore)> {
        let l = Layout::choose::<K>(r, total, opts.memory_budget);
        Ok((Partitions::new(l, dir), DigestStore::new(dir, layout, r)?))
    };
    let sides = PerSide::new(side(rows.legacy)?, side(rows.target)?);
    // The filter may take a quarter of the budget on top of the match structure's.
    let filter = filter::PairFilter::new(rows.legacy, opts.memory_budget / 4);
    let capture = filter
        .as_ref()
        .map(|_| detail::Capture::new(plan.read_columns(Side::Target), EXPLAIN_ROWS + 4096));
    let clock = std::time::Instant::now();
    let attribution = attribution(plan, opts);
    let store_legacy = attribution == Attribution::Store;
    let totals = scan::scan(
        plan,
        layout,
        &sides,
        (filter.as_ref(), store_legacy),
        capture.as_ref(),
        progress,
    )?;
    drop(filter);
    let captured = PerSide::new(None, capture.map(detail::Capture::finish));
    tracing::info!(table = %plan.name, secs = clock.elapsed().as_secs_f64(), "hashing pass");

    let inputs = settle::Inputs {
        plan,
        layout,
        stores: PerSide::new(&sides.legacy.1, &sides.target.1),
        captured: &captured,
        attribution,
        changed_cap: EXPLAIN_ROWS.max(opts.samples),
        cap: opts.samples,
        dir,
        budget: opts.memory_budget,
    };
    let tally = settle::settle(
        &inputs,
        PerSide::new(&sides.legacy.0, &sides.target.0),
        differing,
    )?;
    tracing::info!(table = %plan.name, secs = clock.elapsed().as_secs_f64(), "attributed");
    Ok((totals, tally, captured))
}

/// The two row identities of DESIGN.md; a violation is a bug and must never become a verdict.
fn check_identities(t: &TableDiff) -> Result<()> {
    let legacy = t.matched + t.changed + t.missing + t.null_key_rows.legacy;
    let target = t.matched + t.changed + t.extra + t.null_key_rows.target;
    if legacy != t.legacy_rows || target != t.target_rows {
        return Err(Error::Internal(format!(
            "table `{}`: row identities do not hold (legacy {legacy} vs {}, target {target} vs {})",
            t.name, t.legacy_rows, t.target_rows
        )));
    }
    Ok(())
}

/// Changed cells classified per column; at most this many changed rows are read again for it.
pub const EXPLAIN_ROWS: usize = 100_000;

type Fetched = PerSide<detail::Rows>;

/// Whether a column's drift class depends on the values (else a differing value is "other").
fn needs_values(plan: &PairPlan, ci: usize) -> bool {
    let col = &plan.columns[ci];
    let scale = |side: Side| {
        let field = plan
            .tables
            .get(side)
            .schema
            .field_with_name(col.names.get(side));
        field.map_or(0, |f| crate::hash::decimal_scale(f.data_type()))
    };
    match col.codec.mode {
        CompareAs::Text(_) | CompareAs::Timestamp => true,
        CompareAs::Numeric => {
            col.codec.cast.is_some() || scale(Side::Legacy) != scale(Side::Target)
        }
        _ => false,
    }
}

/// The table's diff from the counts: rows, checksums, categories and per-column drift.
fn counted<K: KeyCodec>(
    plan: &PairPlan,
    totals: &PerSide<scan::ScanTotals>,
    tally: &settle::Tally<K>,
) -> TableDiff {
    let rows = PerSide::new(plan.tables.legacy.rows, plan.tables.target.rows);
    let mut t = TableDiff::new(
        &plan.name,
        &plan.keys.iter().map(|k| k.name.clone()).collect::<Vec<_>>(),
        &plan.sources,
    );
    t.legacy_rows = rows.legacy;
    t.target_rows = rows.target;
    t.null_key_rows = PerSide::new(totals.legacy.null_keys, totals.target.null_keys);
    t.checksums = PerSide::new(
        format!("{:016x}", totals.legacy.checksum),
        format!("{:016x}", totals.target.checksum),
    );
    t.schema = plan.schema.clone();
    t.compared_columns = plan.columns.iter().map(|c| c.name.clone()).collect();
    t.matched = tally.matched;
    t.missing = tally.missing;
    t.extra = tally.extra;
    t.duplicate_keys = tally.duplicate_keys;
    t.changed = tally.changed;
    for (c, n) in plan.columns.iter().zip(&tally.columns) {
        t.columns
            .insert(c.name.clone(), ColumnDrift { changed: *n });
    }
    let drift = t.changed + t.missing + t.extra + t.null_key_rows.legacy + t.null_key_rows.target;
    #[allow(clippy::cast_precision_loss)]
    {
        t.drift_ratio = drift as f64 / rows.legacy.max(1) as f64;
    }
    t
}

/// Changed, missing and extra rows first in key order, as the tally kept them.
type Firsts<'a, K> = (
    &'a [(Candidate<K>, Vec<u16>)],
    &'a [(K, u64)],
    &'a [(K, u64)],
);

/// The detail pass: the few rows the samples and the drift classes need, read again.
fn detail_pass<K: KeyCodec>(
    plan: &PairPlan,
    cap: usize,
    captured: &PerSide<Option<detail::Captured>>,
    (changed, missing_rows, extra_rows): Firsts<'_, K>,
    t: &mut TableDiff,
) -> Result<()> {
    // The detail pass. Samples need every column of a few rows; drift classes need, for every
    // changed row (up to EXPLAIN_ROWS), only the columns whose class depends on the values
    // (text, timestamps, decimals of different scales): an integer, date, boolean or float that
    // differs is "other" without reading it again.
    let explained_rows = &changed[..changed.len().min(EXPLAIN_ROWS)];
    let valued: Vec<usize> = (0..plan.columns.len())
        .filter(|&ci| needs_values(plan, ci))
        .collect();
    let sample_ords = |side: Side| -> Vec<u64> {
        let mut ords: Vec<u64> = changed
            .iter()
            .take(cap)
            .map(|(c, _)| *c.ordinal(side))
            .collect();
        let rest = match side {
            Side::Legacy => missing_rows,
            Side::Target => extra_rows,
        };
        ords.extend(rest.iter().take(cap).map(|(_, o)| *o));
        ords
    };
    let explain_ords = |side: Side| -> Vec<u64> {
        explained_rows
            .iter()
            .filter(|(_, mask)| mask.iter().any(|ci| valued.contains(&usize::from(*ci))))
            .map(|(c, _)| *c.ordinal(side))
            .collect()
    };
    let valued_names = |side: Side| -> Vec<String> {
        valued
            .iter()
            .map(|&ci| plan.columns[ci].names.get(side).clone())
            .collect()
    };
    let fetch = |side: Side| -> Result<(detail::Rows, detail::Rows)> {
        let table = plan.tables.get(side);
        let kept = captured.get(side).as_ref();
        let (samples, explain) = rayon::join(
            || detail::fetch_with(table, &sample_ords(side), &plan.read_columns(side), kept),
            || detail::fetch_with(table, &explain_ords(side), &valued_names(side), kept),
        );
        Ok((samples?, explain?))
    };
    let (legacy_rows, target_rows) = rayon::join(|| fetch(Side::Legacy), || fetch(Side::Target));
    let ((ls, le), (ts, te)) = (legacy_rows?, target_rows?);
    let sampled = PerSide::new(ls, ts);
    let valued_rows = PerSide::new(le, te);
    t.explained = explain_changes(plan, explained_rows, &valued, &valued_rows);
    t.samples = samples(plan, cap, changed, missing_rows, extra_rows, &sampled);
    Ok(())
}

fn explain_changes<K>(
    plan: &PairPlan,
    changed: &[(Candidate<K>, Vec<u16>)],
    valued: &[usize],
    rows: &PerSide<detail::Rows>,
) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (c, mask) in changed {
        for &ci in mask {
            let ci = usize::from(ci);
            let col = &plan.columns[ci];
            let class = match valued.iter().position(|&v| v == ci) {
                None => explain::Class::Other,
                Some(at) => match (rows.legacy.get(&c.legacy), rows.target.get(&c.target)) {
                    (Some(la), Some(ta)) => {
                        explain::classify(la[at].as_ref(), ta[at].as_ref(), &col.codec)
                    }
                    _ => explain::Class::Other,
                },
            };
            *out.entry(col.name.clone())
                .or_default()
                .entry(class.as_str().to_owned())
                .or_default() += 1;
        }
    }
    out
}

fn samples<K>(
    plan: &PairPlan,
    cap: usize,
    changed: &[(Candidate<K>, Vec<u16>)],
    missing: &[(K, u64)],
    extra: &[(K, u64)],
    fetched: &Fetched,
) -> Samples {
    let changed = &changed[..changed.len().min(cap)];
    let missing = &missing[..missing.len().min(cap)];
    let extra = &extra[..extra.len().min(cap)];
    let (l, t) = (&fetched.legacy, &fetched.target);
    let nk = plan.keys.len();
    let key_of = |arrays: &[arrow::array::ArrayRef]| -> BTreeMap<String, serde_json::Value> {
        plan.keys
            .iter()
            .zip(arrays)
            .map(|(k, a)| {
                (
                    k.name.clone(),
                    plan.redact
                        .value(&k.name, crate::value::render(a.as_ref(), 0)),
                )
            })
            .collect()
    };
    let mut s = Samples::default();
    for (c, mask) in changed {
        let (Some(la), Some(ta)) = (l.get(&c.legacy), t.get(&c.target)) else {
            continue;
        };
        let columns = mask
            .iter()
            .map(|&ci| {
                let ci = usize::from(ci);
                let name = &plan.columns[ci].name;
                let (lv, tv) =
                    crate::value::render_pair(la[nk + ci].as_ref(), 0, ta[nk + ci].as_ref(), 0);
                let values = PerSide::new(plan.redact.value(name, lv), plan.redact.value(name, tv));
                (name.clone(), values)
            })
            .collect();
        s.changed.push(ChangedSample {
            key: key_of(la),
            columns,
        });
    }
    for (_, o) in missing {
        if let Some(a) = l.get(o) {
            s.missing.push(KeySample { key: key_of(a) });
        }
    }
    for (_, o) in extra {
        if let Some(a) = t.get(o) {
            s.extra.push(KeySample { key: key_of(a) });
        }
    }
    s
}
