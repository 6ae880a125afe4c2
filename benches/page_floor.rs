//! How low a decode floor can go: every page of every column chunk of both sides' bench table
//! (`service_orders`) read and decompressed (parquet's page reader, checksums verified as in a
//! run), and nothing else.
//! Any reader that hashes straight from the pages still pays this; the gap between it and
//! `recon decode-floor` is the most that page-level hashing could take off a run.
//!
//!     cargo bench --bench page_floor -- bench-data/10000000

use std::fs::File;
use std::time::Instant;

use parquet::column::page::Page;
use parquet::file::reader::{FileReader, SerializedFileReader};
use rayon::prelude::*;

mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work = common::row_groups(&common::root())?;
    for _ in 0..3 {
        let clock = Instant::now();
        let (pages, bytes) = work
            .par_iter()
            .map(|(f, rg)| -> Result<(u64, u64), String> {
                let file = File::open(f).map_err(|e| e.to_string())?;
                let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
                let group = reader.get_row_group(*rg).map_err(|e| e.to_string())?;
                let (mut pages, mut bytes) = (0u64, 0u64);
                for c in 0..group.num_columns() {
                    let mut chunk = group.get_column_page_reader(c).map_err(|e| e.to_string())?;
                    while let Some(page) = chunk.get_next_page().map_err(|e| e.to_string())? {
                        let buf = match &page {
                            Page::DataPage { buf, .. }
                            | Page::DataPageV2 { buf, .. }
                            | Page::DictionaryPage { buf, .. } => buf,
                        };
                        pages += 1;
                        bytes += buf.len() as u64;
                    }
                }
                Ok((pages, bytes))
            })
            .try_reduce(|| (0, 0), |a, b| Ok((a.0 + b.0, a.1 + b.1)))?;
        println!(
            "pages only (decompressed, nothing decoded), both sides, all columns: {pages} pages, {} MiB in {:.2} s",
            bytes >> 20,
            clock.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
