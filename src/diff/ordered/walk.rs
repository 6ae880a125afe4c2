//! The merge itself: both sides' hashed batches walked key group by key group, in key order,
//! each group paired as the general path pairs one and its changed pairs attributed from the
//! digests in memory.

use std::collections::VecDeque;

use super::source::{Hashed, Source};
use super::{Counted, Inputs, Stop};
use crate::diff::attribute::{self, Settled};
use crate::diff::merge::{self, Candidate};
use crate::diff::partition::Entry;
use crate::diff::scan::KeyCodec;
use crate::diff::settle::{Differing, Tally};
use crate::error::{Error, Result};
use crate::side::PerSide;
use crate::spill::spool::Spool;

/// Differing rows buffered before they go to the spool.
const SPOOL_CHUNK: usize = 4096;

/// A side's stream of hashed batches, with the rows of the current key group still held.
pub(super) struct Cursor<'a, K> {
    source: Source<'a, K>,
    /// Batches from the first one a held row is in.
    batches: VecDeque<Hashed<K>>,
    /// The next row: (index into `batches`, row).
    at: (usize, usize),
    /// Rows of the key group being gathered: while there are any, no batch may go.
    holding: bool,
}

impl<'a, K: KeyCodec> Cursor<'a, K> {
    pub(super) fn new(source: Source<'a, K>) -> Self {
        Self {
            source,
            batches: VecDeque::new(),
            at: (0, 0),
            holding: false,
        }
    }

    /// The next row the merge takes (rows with a NULL key, or of another segment, are counted
    /// by the source and never paired), or `None` at the end of the side.
    fn peek(&mut self) -> std::result::Result<Option<(usize, usize)>, Stop> {
        loop {
            let (b, r) = self.at;
            if b == self.batches.len() {
                match self.source.next_batch()? {
                    Some(h) => self.batches.push_back(h),
                    None => return Ok(None),
                }
                continue;
            }
            let batch = &self.batches[b];
            if r >= batch.keys.len() {
                self.at = (b + 1, 0);
                // A batch passed over with no row held (rows of another segment, NULL keys)
                // goes at once: a row group's worth of them must not pile up.
                if !self.holding {
                    self.release();
                }
            } else if batch.keys[r].is_none() {
                self.at = (b, r + 1);
            } else {
                return Ok(Some((b, r)));
            }
        }
    }

    fn merge_key(&self, (b, r): (usize, usize)) -> &[u8] {
        self.batches[b].merge_key(r)
    }

    /// Takes every row whose merge key is `key` from the front of the side into `out`.
    fn gather(
        &mut self,
        key: &[u8],
        out: &mut Vec<(usize, usize)>,
    ) -> std::result::Result<(), Stop> {
        out.clear();
        while let Some(p) = self.peek()? {
            if self.merge_key(p) != key {
                break;
            }
            out.push(p);
            self.holding = true;
            self.at = (p.0, p.1 + 1);
        }
        Ok(())
    }

    /// Lets go of the batches before the next row (no held row is in them any more).
    fn release(&mut self) {
        self.holding = false;
        while self.at.0 > 0 {
            if let Some(batch) = self.batches.pop_front() {
                self.source.recycle(batch);
            }
            self.at.0 -= 1;
        }
    }
}

/// Merges one segment: key group by key group, in key order.
pub(super) fn merge_segment<K: KeyCodec>(
    inp: &Inputs<'_>,
    sources: PerSide<Source<'_, K>>,
    differing: Option<&Spool<Differing<K>>>,
) -> std::result::Result<Counted<K>, Stop> {
    let PerSide { legacy, target } = sources;
    let mut sides = PerSide::new(Cursor::new(legacy), Cursor::new(target));
    let plan = inp.plan;
    let mut tally = Tally::new(plan.columns.len(), inp.changed_cap, inp.cap);
    let mut rows: Vec<Differing<K>> = Vec::new();
    let mut key: Vec<u8> = Vec::new();
    let (mut gl, mut gt) = (Vec::new(), Vec::new());
    let spooled = differing.is_some();
    loop {
        let heads = (sides.legacy.peek()?, sides.target.peek()?);
        // The common case first: one row a side with one key, the next rows of both sides in
        // the same batches and past that key.
        if let (Some(l), Some(t)) = heads {
            let (lb, tb) = (&sides.legacy.batches[l.0], &sides.target.batches[t.0]);
            let lk = lb.merge_key(l.1);
            if lk == tb.merge_key(t.1)
                && l.1 + 1 < lb.keys.len()
                && t.1 + 1 < tb.keys.len()
                && lb.merge_key(l.1 + 1) != lk
                && tb.merge_key(t.1 + 1) != lk
            {
                pair_one(inp, &mut tally, (lb, l.1), (tb, t.1), (&mut rows, spooled))?;
                sides.legacy.at = (l.0, l.1 + 1);
                sides.target.at = (t.0, t.1 + 1);
                sides.legacy.release();
                sides.target.release();
                flush(&mut rows, differing)?;
                continue;
            }
        }
        key.clear();
        match heads {
            (None, None) => break,
            (Some(l), None) => key.extend_from_slice(sides.legacy.merge_key(l)),
            (None, Some(t)) => key.extend_from_slice(sides.target.merge_key(t)),
            (Some(l), Some(t)) => {
                key.extend_from_slice(sides.legacy.merge_key(l).min(sides.target.merge_key(t)));
            }
        }
        sides.legacy.gather(&key, &mut gl)?;
        sides.target.gather(&key, &mut gt)?;
        pair_group(
            inp,
            &mut tally,
            (&sides.legacy, &gl),
            (&sides.target, &gt),
            (&mut rows, spooled),
        )?;
        sides.legacy.release();
        sides.target.release();
        flush(&mut rows, differing)?;
    }
    if let Some(d) = differing {
        d.push(&rows)?;
    }
    let counted = |c: &Cursor<'_, K>| (c.source.totals, c.source.took);
    Ok((
        PerSide::new(counted(&sides.legacy), counted(&sides.target)),
        tally,
    ))
}

/// Spools the buffered differing rows once there are enough of them.
fn flush<K: KeyCodec>(
    rows: &mut Vec<Differing<K>>,
    differing: Option<&Spool<Differing<K>>>,
) -> Result<()> {
    if rows.len() >= SPOOL_CHUNK
        && let Some(d) = differing
    {
        d.push(rows)?;
        rows.clear();
    }
    Ok(())
}

/// One row a side under one key: matched, or a changed candidate settled on the spot.
fn pair_one<K: KeyCodec>(
    inp: &Inputs<'_>,
    tally: &mut Tally<K>,
    (lb, lr): (&Hashed<K>, usize),
    (tb, tr): (&Hashed<K>, usize),
    spool: (&mut Vec<Differing<K>>, bool),
) -> Result<()> {
    if lb.hash(lr) == tb.hash(tr) {
        tally.matched += 1;
        return Ok(());
    }
    let (Some(l), Some(t)) = (lb.entry(lr), tb.entry(tr)) else {
        return Err(Error::Internal("a keyed row without a key".into()));
    };
    let c = Candidate {
        key: l.key,
        legacy: l.ord,
        target: t.ord,
        hashes: (l.hash, t.hash),
    };
    settle(inp, tally, c, (lb, lr), (tb, tr), spool)
}

/// Settles a changed candidate from the digests in memory and counts it: 64 bits a column, so
/// nothing is left unsettled (a collision in every differing column leaves a changed row with
/// no column named, as a re-read does in the general path).
fn settle<K: KeyCodec>(
    inp: &Inputs<'_>,
    tally: &mut Tally<K>,
    c: Candidate<K>,
    (lb, lr): (&Hashed<K>, usize),
    (tb, tr): (&Hashed<K>, usize),
    (rows, spooled): (&mut Vec<Differing<K>>, bool),
) -> Result<()> {
    let l = lb.row_digests(lr, inp.layout);
    let t = tb.row_digests(tr, inp.layout);
    let settled = match attribute::attribute(inp.plan, inp.layout, &l, &t)? {
        None => Settled::Equal,
        Some(mask) => Settled::Differ(mask),
    };
    let legacy_rows = inp.plan.tables.legacy.rows;
    tally.count_settled(c, settled, legacy_rows, spooled.then_some(rows));
    Ok(())
}

/// Every row of one key on both sides (one side may have none): paired as the general path
/// pairs a key group.
fn pair_group<K: KeyCodec>(
    inp: &Inputs<'_>,
    tally: &mut Tally<K>,
    (lc, gl): (&Cursor<'_, K>, &[(usize, usize)]),
    (tc, gt): (&Cursor<'_, K>, &[(usize, usize)]),
    (rows, spooled): (&mut Vec<Differing<K>>, bool),
) -> std::result::Result<(), Stop> {
    let entries = |c: &Cursor<'_, K>, g: &[(usize, usize)]| -> Vec<Entry<K>> {
        g.iter()
            .filter_map(|&(b, r)| c.batches[b].entry(r))
            .collect()
    };
    let (le, te) = (entries(lc, gl), entries(tc, gt));
    let mut keys = le.iter().chain(&te).map(|e| e.key);
    if let Some(k) = keys.next()
        && keys.any(|o| o != k)
    {
        return Err(Stop::Mismatch);
    }
    let m = merge::merge(le, te, usize::MAX);
    let legacy_rows = inp.plan.tables.legacy.rows;
    tally.count_merged(&m, legacy_rows, spooled.then_some(&mut *rows));
    let find = |c: &Cursor<'_, K>, g: &[(usize, usize)], ord: u64| {
        g.iter()
            .copied()
            .find(|&(b, r)| c.batches[b].base + r as u64 == ord)
    };
    for c in m.candidates {
        let (Some((lb, lr)), Some((tb, tr))) = (find(lc, gl, c.legacy), find(tc, gt, c.target))
        else {
            return Err(Stop::Failed(Error::Internal(format!(
                "table `{}`: a paired row is not in its key group",
                inp.plan.name
            ))));
        };
        settle(
            inp,
            tally,
            c,
            (&lc.batches[lb], lr),
            (&tc.batches[tb], tr),
            (&mut *rows, spooled),
        )?;
    }
    Ok(())
}
