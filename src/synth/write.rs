//! Writing a table pair: every row's value from its fate, the target shuffled, Parquet files
//! with zstd row groups.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use super::GenOptions;
use super::model::*;
use super::truth::*;
use super::values::{Builder, V};
use crate::error::{Error, Result};

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

pub(super) fn write_pair<'a>(
    out: &Path,
    spec: &'a Spec,
    opts: &GenOptions,
) -> Result<(TableTruth, Written<'a>)> {
    let seed = opts.seed
        ^ rnd(
            0,
            spec.name.len() as u64,
            spec.name.bytes().map(u64::from).sum(),
        );
    let mut truth = TableTruth::default();
    for c in &spec.cols {
        if !spec.key.contains(&c.legacy) {
            truth.columns.insert(c.legacy.to_owned(), 0);
        }
    }
    // Fates decide which legacy rows reach the target and how; the target is shuffled. A fate
    // is a function of (seed, row), computed where it is needed: only the target's row order
    // (8 bytes a row) is held, not the rows.
    let written = Written {
        spec,
        seed,
        swap: spec.swap_col.and_then(|col| swap_rows(spec, col, seed)),
        target_rows: Vec::new(),
    };
    let mut target_rows: Vec<u64> = Vec::new();
    for r in 0..spec.rows {
        match written.fate(r) {
            Fate::Missing => truth.missing += 1,
            Fate::NullKey => {
                truth.null_key_rows.legacy += 1;
                truth.null_key_rows.target += 1;
                target_rows.push(r);
            }
            Fate::Duplicate => {
                truth.matched += 1;
                truth.extra += 1;
                truth.duplicate_keys.target += 1;
                target_rows.push(r);
                target_rows.push(r);
            }
            Fate::Changed(c) => {
                truth.changed += 1;
                *truth
                    .columns
                    .entry(spec.cols[c].legacy.to_owned())
                    .or_default() += 1;
                target_rows.push(r);
            }
            Fate::Swap(_) => {
                truth.changed += 1;
                *truth
                    .columns
                    .entry(spec.swap_col.unwrap_or_default().to_owned())
                    .or_default() += 1;
                target_rows.push(r);
            }
            Fate::Cosmetic => {
                truth.cosmetic += 1;
                truth.matched += 1;
                target_rows.push(r);
            }
            Fate::Same => {
                truth.matched += 1;
                target_rows.push(r);
            }
        }
    }
    let extras = spec.extra_rows();
    truth.extra += extras;
    target_rows.extend(spec.rows..spec.rows + extras);
    // Fisher-Yates with the stateless generator: deterministic for a seed.
    for i in (1..target_rows.len()).rev() {
        let j = usize::try_from(rnd(seed, i as u64, 0x5_4FF1E) % (i as u64 + 1)).unwrap_or(0);
        target_rows.swap(i, j);
    }
    truth.legacy_rows = spec.rows;
    truth.target_rows = target_rows.len() as u64;

    let legacy_cols: Vec<&Col> = spec.cols.iter().chain(&spec.legacy_only).collect();
    let legacy_rows = usize::try_from(spec.rows).map_err(|e| Error::failed("row count", e))?;
    write_table(
        &out.join("legacy").join(format!("{}.parquet", spec.legacy)),
        &written,
        &legacy_cols,
        (legacy_rows, &|i| i as u64),
        true,
        opts,
    )?;
    let target_cols: Vec<&Col> = spec.cols.iter().collect();
    write_table(
        &out.join("target").join(format!("{}.parquet", spec.target)),
        &written,
        &target_cols,
        (target_rows.len(), &|i| target_rows[i]),
        false,
        opts,
    )?;
    Ok((
        truth,
        Written {
            target_rows,
            ..written
        },
    ))
}

/// The first unchanged rows of tenants 1 and 2, whose `col` values the target swaps (none when
/// the values are equal or a tenant has no unchanged row).
pub(super) fn swap_rows(spec: &Spec, col: &str, seed: u64) -> Option<(u64, u64)> {
    let tci = spec.cols.iter().position(|c| c.legacy == "tenant_id")?;
    let first_of = |t: i64| {
        (0..spec.rows).find(|&r| {
            spec.fate(seed, r) == Fate::Same
                && value(seed, r, tci as u64 + 1, spec.cols[tci].kind) == V::Int(t)
        })
    };
    let sci = spec.cols.iter().position(|c| c.legacy == col)?;
    let of = |r: u64| value(seed, r, sci as u64 + 1, spec.cols[sci].kind);
    let (a, b) = (first_of(1)?, first_of(2)?);
    (of(a) != of(b)).then_some((a, b))
}

pub(super) fn row_value(
    spec: &Spec,
    col: &Col,
    ci: usize,
    seed: u64,
    row: u64,
    fate: Fate,
    legacy: bool,
) -> V {
    let base = |row: u64, ci: usize, kind: Kind| match kind {
        Kind::Sum(a, b, c) => {
            let part = |i: usize| match value(seed, row, i as u64 + 1, spec.cols[i].kind) {
                V::Dec(m, _) => m,
                _ => 0,
            };
            let scale = match spec.cols[a].kind {
                Kind::Money(s, _) => s,
                _ => 2,
            };
            V::Dec(part(a) + part(b) + part(c), scale)
        }
        kind => value(seed, row, ci as u64 + 1, kind),
    };
    let v = base(row, ci, col.kind);
    if fate == Fate::NullKey && spec.key.last() == Some(&col.legacy) {
        return V::Null;
    }
    if legacy {
        return v;
    }
    match fate {
        Fate::Changed(c) if c == ci => change(v, seed, row),
        Fate::Cosmetic if spec.cosmetic_col == Some(col.legacy) => cosmetic(v),
        Fate::Swap(other) if spec.swap_col == Some(col.legacy) => base(other, ci, col.kind),
        _ => v,
    }
}

#[allow(clippy::too_many_arguments)]
/// Writes `rows.0` rows, the i-th being row `rows.1(i)` with its fate, one row group at a time.
pub(super) fn write_table(
    path: &Path,
    written: &Written<'_>,
    cols: &[&Col],
    rows: (usize, &(dyn Fn(usize) -> u64 + Sync)),
    legacy: bool,
    opts: &GenOptions,
) -> Result<()> {
    let (spec, seed) = (written.spec, written.seed);
    let werr = |e: Box<dyn std::error::Error + Send + Sync>| {
        Error::failed(format!("writing {}", path.display()), e)
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    let fields: Vec<Field> = cols
        .iter()
        .map(|c| {
            Field::new(
                if legacy { c.legacy } else { c.target },
                if legacy { c.lt.clone() } else { c.tt.clone() },
                true,
            )
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).map_err(|e| werr(e.into()))?,
        ))
        .set_max_row_group_row_count(Some(opts.row_group))
        .build();
    let file = File::create(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    let mut writer =
        ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(|e| werr(e.into()))?;
    let index_of = |c: &Col| {
        spec.cols
            .iter()
            .chain(&spec.legacy_only)
            .position(|x| x.legacy == c.legacy)
            .unwrap_or(0)
    };
    let (count, row_at) = rows;
    for start in (0..count).step_by(opts.row_group.max(1)) {
        let chunk: Vec<(u64, Fate)> = (start..count.min(start + opts.row_group.max(1)))
            .into_par_iter()
            .map(|i| {
                let row = row_at(i);
                (row, written.fate(row))
            })
            .collect();
        let arrays: Vec<_> = cols
            .par_iter()
            .map(|c| {
                let dt = if legacy { &c.lt } else { &c.tt };
                let mut b = Builder::new(dt, RIYADH);
                let ci = index_of(c);
                for &(row, fate) in &chunk {
                    b.push(&row_value(spec, c, ci, seed, row, fate, legacy));
                }
                b.finish()
            })
            .collect();
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(|e| werr(e.into()))?;
        writer.write(&batch).map_err(|e| werr(e.into()))?;
    }
    writer.close().map_err(|e| werr(e.into()))?;
    Ok(())
}
