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

pub(super) fn write_pair(
    out: &Path,
    spec: &Spec,
    opts: &GenOptions,
) -> Result<(TableTruth, Written)> {
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
    // Fates decide which legacy rows reach the target and how; the target is shuffled.
    let fates: Vec<Fate> = (0..spec.rows)
        .into_par_iter()
        .map(|r| spec.fate(seed, r))
        .collect();
    let mut fates = fates;
    if let Some(col) = spec.swap_col {
        plant_swap(spec, col, seed, &mut fates);
    }
    let mut target_rows: Vec<(u64, Fate)> = Vec::with_capacity(fates.len());
    for (r, f) in fates.iter().enumerate() {
        let r = r as u64;
        match f {
            Fate::Missing => truth.missing += 1,
            Fate::NullKey => {
                truth.null_key_rows.legacy += 1;
                truth.null_key_rows.target += 1;
                target_rows.push((r, *f));
            }
            Fate::Duplicate => {
                truth.matched += 1;
                truth.extra += 1;
                truth.duplicate_keys.target += 1;
                target_rows.push((r, *f));
                target_rows.push((r, *f));
            }
            Fate::Changed(c) => {
                truth.changed += 1;
                *truth
                    .columns
                    .entry(spec.cols[*c].legacy.to_owned())
                    .or_default() += 1;
                target_rows.push((r, *f));
            }
            Fate::Swap(_) => {
                truth.changed += 1;
                *truth
                    .columns
                    .entry(spec.swap_col.unwrap_or_default().to_owned())
                    .or_default() += 1;
                target_rows.push((r, *f));
            }
            Fate::Cosmetic => {
                truth.cosmetic += 1;
                truth.matched += 1;
                target_rows.push((r, *f));
            }
            Fate::Same => {
                truth.matched += 1;
                target_rows.push((r, *f));
            }
        }
    }
    let extras = spec.extra_rows();
    truth.extra += extras;
    target_rows.extend((spec.rows..spec.rows + extras).map(|r| (r, Fate::Same)));
    // Fisher-Yates with the stateless generator: deterministic for a seed.
    for i in (1..target_rows.len()).rev() {
        let j = usize::try_from(rnd(seed, i as u64, 0x5_4FF1E) % (i as u64 + 1)).unwrap_or(0);
        target_rows.swap(i, j);
    }
    truth.legacy_rows = spec.rows;
    truth.target_rows = target_rows.len() as u64;

    let legacy_cols: Vec<&Col> = spec.cols.iter().chain(&spec.legacy_only).collect();
    let legacy_rows: Vec<(u64, Fate)> = fates
        .iter()
        .enumerate()
        .map(|(r, f)| (r as u64, *f))
        .collect();
    write_table(
        &out.join("legacy").join(format!("{}.parquet", spec.legacy)),
        spec,
        &legacy_cols,
        &legacy_rows,
        seed,
        true,
        opts,
    )?;
    let target_cols: Vec<&Col> = spec.cols.iter().collect();
    write_table(
        &out.join("target").join(format!("{}.parquet", spec.target)),
        spec,
        &target_cols,
        &target_rows,
        seed,
        false,
        opts,
    )?;
    Ok((
        truth,
        Written {
            fates,
            target_rows,
            seed,
        },
    ))
}

/// Picks the first unchanged rows of tenants 1 and 2 and swaps their `col` values.
pub(super) fn plant_swap(spec: &Spec, col: &str, seed: u64, fates: &mut [Fate]) {
    let tenant_ci = spec.cols.iter().position(|c| c.legacy == "tenant_id");
    let Some(tci) = tenant_ci else { return };
    let first_of = |t: i64, fates: &[Fate]| {
        fates.iter().enumerate().position(|(r, f)| {
            *f == Fate::Same
                && value(seed, r as u64, tci as u64 + 1, spec.cols[tci].kind) == V::Int(t)
        })
    };
    let Some(sci) = spec.cols.iter().position(|c| c.legacy == col) else {
        return;
    };
    let of = |r: usize| value(seed, r as u64, sci as u64 + 1, spec.cols[sci].kind);
    if let (Some(a), Some(b)) = (first_of(1, fates), first_of(2, fates)) {
        if of(a) == of(b) {
            return;
        }
        fates[a] = Fate::Swap(b as u64);
        fates[b] = Fate::Swap(a as u64);
    }
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
pub(super) fn write_table(
    path: &Path,
    spec: &Spec,
    cols: &[&Col],
    rows: &[(u64, Fate)],
    seed: u64,
    legacy: bool,
    opts: &GenOptions,
) -> Result<()> {
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
    for chunk in rows.chunks(opts.row_group) {
        let arrays: Vec<_> = cols
            .par_iter()
            .map(|c| {
                let dt = if legacy { &c.lt } else { &c.tt };
                let mut b = Builder::new(dt, RIYADH);
                let ci = index_of(c);
                for &(row, fate) in chunk {
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
