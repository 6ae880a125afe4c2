//! From the match structure to the counts: each partition is merged, its changed candidates
//! attributed from the stored digests and counted on the spot; what the digests cannot settle
//! (and, with [`Attribution::Reread`], every candidate) is spooled in legacy ordinal order and
//! settled from rows read again, a chunk at a time. Differing rows for `--diff-out` and the
//! history are spooled in (side, ordinal) order. Memory follows a partition, a bucket and the
//! capped samples, never the drift.

use rayon::prelude::*;

use super::attribute::{self, Attribution, Settled};
use super::detail;
use super::digests::{DigestStore, RowLayout};
use super::merge::{self, Candidate};
use super::partition::{Key, Partitions};
use crate::error::{Error, Result};
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};
use crate::spill::spool::{FirstN, Record, Spool, take};

/// What a differing row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Paired by key, values differ (read from the legacy side).
    Changed,
    /// Legacy row with no target row.
    Missing,
    /// Target row with no legacy row.
    Extra,
}

impl Category {
    /// The report's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Missing => "missing",
            Self::Extra => "extra",
        }
    }

    /// The side its key is read from.
    pub fn side(self) -> Side {
        match self {
            Self::Changed | Self::Missing => Side::Legacy,
            Self::Extra => Side::Target,
        }
    }
}

/// One differing row, as `--diff-out` and the history need it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Differing<K> {
    /// Legacy ordinals first, then the target's after them: the order rows are written in.
    pub position: u64,
    /// What it is.
    pub category: Category,
    /// Its ordinal on [`Category::side`].
    pub ordinal: u64,
    /// Its key.
    pub key: K,
    /// Differing compared columns, for changed rows.
    pub columns: Vec<u16>,
}

impl<K: Key> Record for Differing<K> {
    fn position(&self) -> u64 {
        self.position
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.position.to_le_bytes());
        out.push(self.category as u8);
        out.extend_from_slice(&self.ordinal.to_le_bytes());
        self.key.write(out);
        let n = u16::try_from(self.columns.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        for c in self.columns.iter().take(usize::from(n)) {
            out.extend_from_slice(&c.to_le_bytes());
        }
    }
    fn read(bytes: &mut &[u8]) -> Option<Self> {
        let position = u64::from_le_bytes(take(bytes)?);
        let category = match take::<1>(bytes)?[0] {
            0 => Category::Changed,
            1 => Category::Missing,
            2 => Category::Extra,
            _ => return None,
        };
        let ordinal = u64::from_le_bytes(take(bytes)?);
        let key = read_key(bytes)?;
        let n = u16::from_le_bytes(take(bytes)?);
        let columns = (0..n)
            .map(|_| take(bytes).map(u16::from_le_bytes))
            .collect::<Option<_>>()?;
        Some(Self {
            position,
            category,
            ordinal,
            key,
            columns,
        })
    }
}

impl<K: Key> Record for Candidate<K> {
    fn position(&self) -> u64 {
        self.legacy
    }
    fn write(&self, out: &mut Vec<u8>) {
        self.key.write(out);
        for w in [self.legacy, self.target, self.hashes.0, self.hashes.1] {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    fn read(bytes: &mut &[u8]) -> Option<Self> {
        let key = read_key(bytes)?;
        let mut word = || take(bytes).map(u64::from_le_bytes);
        Some(Self {
            key,
            legacy: word()?,
            target: word()?,
            hashes: (word()?, word()?),
        })
    }
}

fn read_key<K: Key>(bytes: &mut &[u8]) -> Option<K> {
    let (head, rest) = bytes.split_at_checked(K::BYTES)?;
    *bytes = rest;
    Some(K::read(head))
}

/// The counts of a table and its capped, ordered samples.
pub struct Tally<K: Ord> {
    /// Identical pairs, and candidates found equal within the tolerances.
    pub matched: u64,
    /// Changed pairs.
    pub changed: u64,
    /// Legacy rows with no target row.
    pub missing: u64,
    /// Target rows with no legacy row.
    pub extra: u64,
    /// Distinct keys occurring more than once, per side.
    pub duplicate_keys: PerSide<u64>,
    /// Changed rows per compared column.
    pub columns: Vec<u64>,
    first_changed: FirstN<(Candidate<K>, Vec<u16>)>,
    first_missing: FirstN<(K, u64)>,
    first_extra: FirstN<(K, u64)>,
}

impl<K: Key> Tally<K> {
    pub(super) fn new(columns: usize, changed_cap: usize, cap: usize) -> Self {
        Self {
            matched: 0,
            changed: 0,
            missing: 0,
            extra: 0,
            duplicate_keys: PerSide::new(0, 0),
            columns: vec![0; columns],
            first_changed: FirstN::new(changed_cap),
            first_missing: FirstN::new(cap),
            first_extra: FirstN::new(cap),
        }
    }

    fn changed(&mut self, c: Candidate<K>, mask: Vec<u16>) {
        self.changed += 1;
        for &ci in &mask {
            if let Some(n) = self.columns.get_mut(usize::from(ci)) {
                *n += 1;
            }
        }
        self.first_changed.push((c, mask));
    }

    /// Counts what a merge classified outright (identical pairs, missing and extra rows,
    /// duplicate keys) and keeps its missing and extra rows: the first ones for samples, and
    /// every one in `rows` when the differing rows are spooled.
    pub(super) fn count_merged(
        &mut self,
        m: &merge::Merged<K>,
        legacy_rows: u64,
        mut rows: Option<&mut Vec<Differing<K>>>,
    ) {
        self.matched += m.matched;
        self.missing += m.missing;
        self.extra += m.extra;
        self.duplicate_keys.legacy += m.duplicate_keys.legacy;
        self.duplicate_keys.target += m.duplicate_keys.target;
        for (found, firsts, category) in [
            (&m.missing_rows, &mut self.first_missing, Category::Missing),
            (&m.extra_rows, &mut self.first_extra, Category::Extra),
        ] {
            for &(key, ord) in found {
                firsts.push((key, ord));
                if let Some(r) = rows.as_deref_mut() {
                    r.push(record(legacy_rows, category, key, ord, Vec::new()));
                }
            }
        }
    }

    /// Counts a settled candidate (and spools it in `rows` when changed); hands back the
    /// candidate when it is not settled yet.
    pub(super) fn count_settled(
        &mut self,
        c: Candidate<K>,
        settled: Settled,
        legacy_rows: u64,
        rows: Option<&mut Vec<Differing<K>>>,
    ) -> Option<Candidate<K>> {
        match settled {
            Settled::Equal => self.matched += 1,
            Settled::Differ(mask) => {
                if let Some(r) = rows {
                    r.push(record(
                        legacy_rows,
                        Category::Changed,
                        c.key,
                        c.legacy,
                        mask.clone(),
                    ));
                }
                self.changed(c, mask);
            }
            Settled::Unknown => return Some(c),
        }
        None
    }

    pub(super) fn absorb(&mut self, o: Self) {
        self.matched += o.matched;
        self.changed += o.changed;
        self.missing += o.missing;
        self.extra += o.extra;
        self.duplicate_keys.legacy += o.duplicate_keys.legacy;
        self.duplicate_keys.target += o.duplicate_keys.target;
        for (a, b) in self.columns.iter_mut().zip(o.columns) {
            *a += b;
        }
        self.first_changed.absorb(o.first_changed);
        self.first_missing.absorb(o.first_missing);
        self.first_extra.absorb(o.first_extra);
    }

    /// The first changed rows (with their columns), missing and extra rows, in key order.
    #[allow(clippy::type_complexity)]
    pub fn firsts(self) -> (Vec<(Candidate<K>, Vec<u16>)>, Vec<(K, u64)>, Vec<(K, u64)>) {
        (
            self.first_changed.into_sorted(),
            self.first_missing.into_sorted(),
            self.first_extra.into_sorted(),
        )
    }
}

/// What settling needs besides the partitions.
pub struct Inputs<'a> {
    /// The pair.
    pub plan: &'a PairPlan,
    /// Where each compared column's digest sits in a stored row.
    pub layout: &'a RowLayout,
    /// Each side's stored digests.
    pub stores: PerSide<&'a DigestStore>,
    /// Target rows kept from the hashing pass.
    pub captured: &'a PerSide<Option<detail::Captured>>,
    /// Where the legacy digests of changed pairs come from.
    pub attribution: Attribution,
    /// Changed rows kept in order (for samples and drift classes).
    pub changed_cap: usize,
    /// Missing and extra rows kept in order (for samples).
    pub cap: usize,
    /// Spool files' folder.
    pub dir: &'a std::path::Path,
    /// Memory a spool bucket may take, about.
    pub budget: usize,
}

/// The spool of a pair's differing rows; a record in memory is the struct and its column list
/// (two bytes a differing column, at most every compared one, plus the allocation's overhead).
pub fn differing_spool<K: Key>(
    plan: &PairPlan,
    dir: &std::path::Path,
    budget: usize,
) -> Spool<Differing<K>> {
    let bytes = std::mem::size_of::<Differing<K>>() + 2 * plan.columns.len() + 16;
    Spool::new(
        dir,
        plan.tables.legacy.rows + plan.tables.target.rows,
        budget,
        bytes,
    )
}

/// Rows settled from a re-read per chunk (both rows of each pair are read whole).
const SETTLE_CHUNK: usize = 1 << 14;

/// Merges every partition and settles every candidate. With `differing`, every differing row is
/// spooled for `--diff-out` and the history.
pub fn settle<K: Key>(
    inp: &Inputs<'_>,
    partitions: PerSide<&Partitions<K>>,
    differing: Option<&Spool<Differing<K>>>,
) -> Result<Tally<K>> {
    let plan = inp.plan;
    let unsettled: Spool<Candidate<K>> = Spool::new(
        inp.dir,
        plan.tables.legacy.rows,
        inp.budget,
        std::mem::size_of::<Candidate<K>>(),
    );
    let mut tally = (0..partitions.legacy.len())
        .into_par_iter()
        .map(|p| settle_partition(inp, &partitions, p, &unsettled, differing))
        .try_reduce(
            || Tally::new(plan.columns.len(), inp.changed_cap, inp.cap),
            |mut a, b| {
                a.absorb(b);
                Ok(a)
            },
        )?;
    tracing::info!(table = %plan.name, "merged and attributed from the stores");
    unsettled.drain(|bucket| settle_spooled(inp, &bucket, &mut tally, differing))?;
    Ok(tally)
}

/// A differing row's record; target rows are positioned after every legacy row.
fn record<K: Key>(
    legacy_rows: u64,
    category: Category,
    key: K,
    ordinal: u64,
    columns: Vec<u16>,
) -> Differing<K> {
    Differing {
        position: match category.side() {
            Side::Legacy => ordinal,
            Side::Target => legacy_rows + ordinal,
        },
        category,
        ordinal,
        key,
        columns,
    }
}

/// Merges partition `p` and attributes its candidates from the stores; what the stores cannot
/// settle goes to `unsettled`.
fn settle_partition<K: Key>(
    inp: &Inputs<'_>,
    partitions: &PerSide<&Partitions<K>>,
    p: usize,
    unsettled: &Spool<Candidate<K>>,
    differing: Option<&Spool<Differing<K>>>,
) -> Result<Tally<K>> {
    let plan = inp.plan;
    let legacy_rows = plan.tables.legacy.rows;
    let keep = if differing.is_some() {
        usize::MAX
    } else {
        inp.cap
    };
    let m = merge::merge(partitions.legacy.take(p)?, partitions.target.take(p)?, keep);
    let mut t = Tally::new(plan.columns.len(), inp.changed_cap, inp.cap);
    let mut rows = Vec::new();
    let spooled = differing.is_some();
    t.count_merged(&m, legacy_rows, spooled.then_some(&mut rows));
    let settled: Vec<Settled> = if inp.attribution == Attribution::Store {
        m.candidates
            .par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(lb, tb), c| attribute::attribute_stored(plan, inp.layout, inp.stores, c, lb, tb),
            )
            .collect::<Result<_>>()?
    } else {
        vec![Settled::Unknown; m.candidates.len()]
    };
    let mut later = Vec::new();
    for (c, s) in m.candidates.into_iter().zip(settled) {
        later.extend(t.count_settled(c, s, legacy_rows, spooled.then_some(&mut rows)));
    }
    unsettled.push(&later)?;
    if let Some(d) = differing {
        d.push(&rows)?;
    }
    Ok(t)
}

/// Settles one bucket of spooled candidates by reading their rows again.
fn settle_spooled<K: Key>(
    inp: &Inputs<'_>,
    bucket: &[Candidate<K>],
    tally: &mut Tally<K>,
    differing: Option<&Spool<Differing<K>>>,
) -> Result<()> {
    let plan = inp.plan;
    if inp.attribution == Attribution::Store {
        // The stores could not settle these: every pair is read whole on both sides.
        return settle_from_rows(plan, inp.layout, bucket, inp.captured, tally, differing);
    }
    // Re-reading the legacy side reads only its compared columns, so it takes larger chunks.
    for chunk in bucket.chunks(1 << 16) {
        let mut settled = attribute::attribute_reread(plan, inp.layout, inp.stores.target, chunk)?;
        attribute::settle_again(plan, inp.layout, chunk, &mut settled, inp.captured)?;
        count_chunk(plan, chunk, settled, tally, differing)?;
    }
    Ok(())
}

/// Settles candidates (in legacy ordinal order) from both of their rows read again, a chunk at
/// a time, and counts them: those the stores could not settle, and pairs found by another
/// engine, which stores no digests (nothing `captured` then).
pub(super) fn settle_from_rows<K: Key>(
    plan: &PairPlan,
    layout: &RowLayout,
    candidates: &[Candidate<K>],
    captured: &PerSide<Option<detail::Captured>>,
    tally: &mut Tally<K>,
    differing: Option<&Spool<Differing<K>>>,
) -> Result<()> {
    for chunk in candidates.chunks(SETTLE_CHUNK) {
        let mut settled = vec![Settled::Unknown; chunk.len()];
        attribute::settle_again(plan, layout, chunk, &mut settled, captured)?;
        count_chunk(plan, chunk, settled, tally, differing)?;
    }
    Ok(())
}

/// Counts a chunk of settled candidates, spooling the changed ones with `differing`.
fn count_chunk<K: Key>(
    plan: &PairPlan,
    chunk: &[Candidate<K>],
    settled: Vec<Settled>,
    tally: &mut Tally<K>,
    differing: Option<&Spool<Differing<K>>>,
) -> Result<()> {
    let mut rows = Vec::new();
    let legacy_rows = plan.tables.legacy.rows;
    for (c, s) in chunk.iter().zip(settled) {
        let spooled = differing.is_some().then_some(&mut rows);
        if tally.count_settled(*c, s, legacy_rows, spooled).is_some() {
            return Err(Error::Internal(format!(
                "table `{}`: a changed row could not be attributed",
                plan.name
            )));
        }
    }
    if let Some(d) = differing {
        d.push(&rows)?;
    }
    Ok(())
}
