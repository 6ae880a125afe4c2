//! The looser reference decode: every column of both sides' `service_orders` files read with
//! parquet's arrow reader as the file declares them (strings materialized, no dictionary hints),
//! row groups in parallel with rayon. `recon decode-floor` is stricter: it reads only the columns a
//! run needs, the way a run reads them (dictionary-encoded strings kept as dictionaries).
//!
//!     cargo bench --bench plain_decode -- bench-data/10000000

use std::fs::File;
use std::time::Instant;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work = common::row_groups(&common::root())?;
    for _ in 0..3 {
        let clock = Instant::now();
        let rows: usize = work
            .par_iter()
            .map(|(f, rg)| -> Result<usize, String> {
                let file = File::open(f).map_err(|e| e.to_string())?;
                let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| {
                        b.with_row_groups(vec![*rg])
                            .with_batch_size(32 * 1024)
                            .build()
                    })
                    .map_err(|e| e.to_string())?;
                let mut n = 0;
                for batch in reader {
                    n += batch.map_err(|e| e.to_string())?.num_rows();
                }
                Ok(n)
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .sum();
        println!(
            "plain arrow decode of both sides, all columns: {rows} rows in {:.2} s",
            clock.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
