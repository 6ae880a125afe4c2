//! Column attribution of changed candidates: which compared columns differ between two rows
//! whose row hashes differ. From the column digests stored during the hashing pass, or, when the
//! legacy side stored none ([`Attribution::Reread`]), from the legacy rows read again in ordinal
//! order, a chunk at a time, against the target's stored digests. Whatever neither can settle
//! (a row not stored, a 32-bit digest collision) is settled by reading both rows again.

use rayon::prelude::*;

use super::digests::{self, DigestStore, RowDigests, RowLayout};
use super::merge::Candidate;
use super::{detail, scan};
use crate::error::{Error, Result};
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};

/// Where the legacy side's column digests come from when a pair's row hashes differ.
///
/// Measured (BENCHMARKS.md): on the bench data set (0.1 % of rows changed, spread over every
/// page) reading again costs a second decode of the legacy side, about 1.2 s at 10M rows against
/// the store's 0.5 s; on TPC-H SF10 `lineitem` (42 changed rows of 60M) it saves the store's
/// 3 GB of writes, about 3 s of 35. The store's cost is bounded by the table's size, the second
/// read's by the drift's spread: [`Attribution::Auto`] picks per table from the last run's drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attribution {
    /// Per table, from the history's newest run: [`Attribution::Reread`] when its changed rows,
    /// spread evenly, would have touched at most a quarter of the legacy side's pages (row
    /// groups where the files have no page index), else [`Attribution::Store`], which is also
    /// the choice without a history or a previous run of the table.
    #[default]
    Auto,
    /// The legacy side stores nothing in the hashing pass; the legacy rows of changed pairs are
    /// read again afterwards (only their row groups, only their pages where the file has an
    /// offset index). Cost follows the drift: the choice for tables expected to match.
    Reread,
    /// The legacy side stores every row's column digests in the hashing pass (4 bytes a column
    /// a row, in a temporary file): a fixed cost, and no second read however dense the drift.
    Store,
}

/// The most of the legacy side's pages a re-read may be expected to touch for
/// [`Attribution::Auto`] to choose it: past that, the re-read approaches a second decode.
const REREAD_PAGES: f64 = 0.25;

impl Attribution {
    /// What this is for a table whose last run found `previous` (changed rows, legacy rows),
    /// when a re-read decodes `rows_per_unit` rows for each row it needs.
    #[allow(clippy::cast_precision_loss)] // a density
    pub fn resolve(self, previous: Option<(u64, u64)>, rows_per_unit: f64) -> Self {
        match (self, previous) {
            (Self::Auto, Some((changed, rows))) if rows > 0 => {
                let density = (changed as f64 / rows as f64).min(1.0);
                let touched = 1.0 - (1.0 - density).powf(rows_per_unit.max(1.0));
                if touched <= REREAD_PAGES {
                    Self::Reread
                } else {
                    Self::Store
                }
            }
            (Self::Auto, _) => Self::Store,
            (chosen, _) => chosen,
        }
    }
}

/// Candidates settled per chunk when the legacy rows are read again.
const REREAD_CHUNK: usize = 1 << 16;

/// Attribution with the legacy rows read again: candidates in legacy ordinal order, a chunk at a
/// time, so each legacy row group is read about once and memory follows the chunk.
pub(super) fn attribute_reread<K: Sync>(
    plan: &PairPlan,
    layout: &RowLayout,
    target: &DigestStore,
    candidates: &[Candidate<K>],
) -> Result<Vec<Settled>> {
    let mut settled = vec![Settled::Unknown; candidates.len()];
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.par_sort_unstable_by_key(|&i| candidates[i].legacy);
    let table = plan.tables.get(Side::Legacy);
    let columns = plan.read_columns(Side::Legacy);
    for chunk in order.chunks(REREAD_CHUNK) {
        let ords: Vec<u64> = chunk.iter().map(|&i| candidates[i].legacy).collect();
        let rows = detail::fetch(table, &ords, &columns)?;
        let results: Vec<(usize, Settled)> = chunk
            .par_iter()
            .map_init(Vec::new, |tb, &i| -> Result<(usize, Settled)> {
                let c = &candidates[i];
                if !target.read_row(c.target, tb)? {
                    return Ok((i, Settled::Unknown));
                }
                let arrays = rows.get(&c.legacy).ok_or_else(|| {
                    Error::Internal(format!(
                        "table `{}`: row {} not found again",
                        plan.name, c.legacy
                    ))
                })?;
                let (mut l, full) = scan::row_digests(plan, layout, Side::Legacy, arrays)?;
                if full != c.hashes.0 {
                    return Err(Error::Internal(format!(
                        "table `{}`: row {} hashes differently when read again",
                        plan.name, c.legacy
                    )));
                }
                // The store keeps the low 32 bits of each digest.
                for d in &mut l.digests {
                    *d &= u64::from(u32::MAX);
                }
                let t = RowDigests::from_stored(layout, tb);
                Ok((
                    i,
                    match attribute(plan, layout, &l, &t)? {
                        None => Settled::Equal,
                        Some(mask) if mask.is_empty() => Settled::Unknown,
                        Some(mask) => Settled::Differ(mask),
                    },
                ))
            })
            .collect::<Result<_>>()?;
        for (i, s) in results {
            settled[i] = s;
        }
    }
    Ok(settled)
}

/// What attribution made of a candidate pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Settled {
    /// Equal within the tolerances: matched after all.
    Equal,
    /// These compared columns differ.
    Differ(Vec<u16>),
    /// Not yet known: a row is not stored, or its 32-bit digests cannot tell.
    Unknown,
}

/// Attribution of a candidate pair from the stores.
pub(super) fn attribute_stored<K>(
    plan: &PairPlan,
    layout: &RowLayout,
    stores: PerSide<&DigestStore>,
    c: &Candidate<K>,
    lb: &mut Vec<u8>,
    tb: &mut Vec<u8>,
) -> Result<Settled> {
    if !stores.legacy.read_row(c.legacy, lb)? || !stores.target.read_row(c.target, tb)? {
        return Ok(Settled::Unknown);
    }
    settle_stored(plan, layout, lb, tb)
}

/// Attribution of a candidate pair from its two rows' stored bytes (`layout`).
pub(super) fn settle_stored(
    plan: &PairPlan,
    layout: &RowLayout,
    legacy: &[u8],
    target: &[u8],
) -> Result<Settled> {
    let (l, t) = (
        RowDigests::from_stored(layout, legacy),
        RowDigests::from_stored(layout, target),
    );
    Ok(match attribute(plan, layout, &l, &t)? {
        None => Settled::Equal,
        // The row hashes differ but no digest does: a 32-bit collision; settled on a re-read.
        Some(mask) if mask.is_empty() => Settled::Unknown,
        Some(mask) => Settled::Differ(mask),
    })
}

/// Which compared columns differ between two rows; `None` when they are equal within the
/// tolerances.
pub(super) fn attribute(
    plan: &PairPlan,
    layout: &RowLayout,
    l: &RowDigests,
    t: &RowDigests,
) -> Result<Option<Vec<u16>>> {
    let mut mask = Vec::new();
    for (ci, col) in plan.columns.iter().enumerate() {
        let differs = match (layout.slot_of[ci], col.tolerance) {
            (Some(s), Some(tol)) => !digests::within(&l.slots[s], &t.slots[s], tol),
            _ => l.digests[ci] != t.digests[ci],
        };
        if differs {
            mask.push(u16::try_from(ci).map_err(|_| Error::Internal("too many columns".into()))?);
        }
    }
    if layout.slots > 0 && mask.is_empty() && l.exact == t.exact {
        return Ok(None);
    }
    Ok(Some(mask))
}

/// Settles the [`Settled::Unknown`] pairs from their rows read again, with 64-bit digests. The
/// row hash recomputed from a row read again must be the one of the hashing pass.
pub(super) fn settle_again<K>(
    plan: &PairPlan,
    layout: &RowLayout,
    candidates: &[Candidate<K>],
    settled: &mut [Settled],
    captured: &PerSide<Option<detail::Captured>>,
) -> Result<()> {
    let which: Vec<usize> = (0..settled.len())
        .filter(|&i| settled[i] == Settled::Unknown)
        .collect();
    if which.is_empty() {
        return Ok(());
    }
    tracing::info!(table = %plan.name, rows = which.len(), "reading again rows the stores cannot attribute");
    let ords = |side: Side| -> Vec<u64> {
        which
            .iter()
            .map(|&i| *candidates[i].ordinal(side))
            .collect()
    };
    let ords = PerSide::new(ords(Side::Legacy), ords(Side::Target));
    let fetch = |side: Side| {
        let table = plan.tables.get(side);
        let kept = captured.get(side).as_ref();
        detail::fetch_with(table, ords.get(side), &plan.read_columns(side), kept)
    };
    let (l, t) = rayon::join(|| fetch(Side::Legacy), || fetch(Side::Target));
    let (l, t) = (l?, t?);
    for &i in &which {
        let c = &candidates[i];
        let row = |side: Side, rows: &detail::Rows, ord: u64, expect: u64| -> Result<RowDigests> {
            let arrays = rows.get(&ord).ok_or_else(|| {
                Error::Internal(format!("table `{}`: row {ord} not found again", plan.name))
            })?;
            let (d, full) = scan::row_digests(plan, layout, side, arrays)?;
            if full != expect {
                return Err(Error::Internal(format!(
                    "table `{}`: row {ord} hashes differently when read again",
                    plan.name
                )));
            }
            Ok(d)
        };
        let ld = row(Side::Legacy, &l, c.legacy, c.hashes.0)?;
        let td = row(Side::Target, &t, c.target, c.hashes.1)?;
        // A 64-bit collision in every differing column is not worth a third read: the rows differ
        // (their hashes do), in no column recon can name.
        settled[i] = match attribute(plan, layout, &ld, &td)? {
            None => Settled::Equal,
            Some(mask) => Settled::Differ(mask),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_rereads_only_when_the_last_run_touched_few_pages() {
        // 40 changed rows of 60M, 20k-row pages: 1.3 % of the pages.
        let sparse = Some((40, 60_000_000));
        assert_eq!(
            Attribution::Auto.resolve(sparse, 20_000.0),
            Attribution::Reread
        );
        // 0.1 % changed: every page has some.
        let dense = Some((10_000, 10_000_000));
        assert_eq!(
            Attribution::Auto.resolve(dense, 20_000.0),
            Attribution::Store
        );
        // The same sparse drift over 1M-row row groups without a page index: most are touched.
        let spread = Some((400, 60_000_000));
        assert_eq!(
            Attribution::Auto.resolve(spread, 20_000.0),
            Attribution::Reread
        );
        assert_eq!(
            Attribution::Auto.resolve(spread, 1_000_000.0),
            Attribution::Store
        );
        // Nothing changed last time; no last time; an empty table.
        assert_eq!(
            Attribution::Auto.resolve(Some((0, 5)), 1.0),
            Attribution::Reread
        );
        assert_eq!(
            Attribution::Auto.resolve(None, 20_000.0),
            Attribution::Store
        );
        assert_eq!(
            Attribution::Auto.resolve(Some((0, 0)), 20_000.0),
            Attribution::Store
        );
        // A choice made by the caller stands.
        for chosen in [Attribution::Store, Attribution::Reread] {
            assert_eq!(chosen.resolve(sparse, 20_000.0), chosen);
            assert_eq!(chosen.resolve(dense, 20_000.0), chosen);
        }
    }
}
