//! The cluster path against the local engine, on `DataFusion`'s own executor: every job goes
//! through the codec (encoded and decoded as a scheduler and its executors do) and runs with
//! its shuffle as local repartitioning. The tests through real Ballista processes are in
//! `tests/it/cluster.rs`.

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};

use super::{PairSpec, ReconCodec, Remote, Submit};
use crate::config::Config;
use crate::diff::{DiffOptions, reconcile};
use crate::error::{Error, Result};

/// Runs each job here, after a round trip through the codec.
#[derive(Debug)]
struct HereAfterTheWire;

impl Submit for HereAfterTheWire {
    fn submit(
        &self,
        _: &str,
        plan: Arc<dyn ExecutionPlan>,
        _: &(dyn Fn(u8) + Sync),
    ) -> Result<Vec<RecordBatch>> {
        let df = |e| Error::failed("a job run here".to_owned(), e);
        let bytes = physical_plan_to_bytes_with_extension_codec(plan, &ReconCodec).map_err(df)?;
        let ctx = SessionContext::new();
        let plan =
            physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &ReconCodec)
                .map_err(df)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::failed("a runtime".to_owned(), e))?;
        runtime
            .block_on(datafusion::physical_plan::collect(plan, ctx.task_ctx()))
            .map_err(df)
    }
}

fn both_ways(config: &str, opts: &DiffOptions) -> Vec<(String, String)> {
    let loaded = Config::load(config.as_ref()).expect("config");
    let workers = crate::Workers::new(2).expect("workers");
    let plans = crate::run::resolve_all(&loaded, &workers).expect("plans");
    let c = &loaded.config;
    let cluster: Arc<dyn Submit> = Arc::new(HereAfterTheWire);
    c.tables
        .iter()
        .zip(&plans)
        .filter(|(t, _)| t.legacy_sql.is_none() && t.target_sql.is_none())
        .map(|(t, p)| {
            let roots = (
                c.legacy.root.as_str(),
                c.target.root.as_str(),
                loaded.base_dir.as_path(),
            );
            let spec = PairSpec::new(t, &c.defaults, roots, p);
            let remote = DiffOptions {
                remote: Some(Remote {
                    cluster: Arc::clone(&cluster),
                    spec: Arc::new(spec),
                }),
                ..opts.clone()
            };
            let progress = |_, _| {};
            let shown = |opts: &DiffOptions| {
                let mut diff = workers
                    .pool()
                    .install(|| reconcile(p, opts, &progress))
                    .expect("reconcile");
                // The differing keys by content (the log's Debug names its temp file).
                let log = std::mem::take(&mut diff.differing_keys);
                let mut keys = Vec::new();
                log.for_each(|k| {
                    keys.push(format!("{k:?}"));
                    Ok(())
                })
                .expect("keys");
                format!("{diff:?} {keys:?}")
            };
            (shown(opts), shown(&remote))
        })
        .collect()
}

#[test]
fn every_erp_pair_gives_the_local_engines_diff() {
    let opts = DiffOptions {
        samples: 5,
        ..DiffOptions::default()
    };
    let pairs = both_ways("fixtures/erp/recon.toml", &opts);
    assert!(pairs.len() >= 4);
    for (local, remote) in pairs {
        assert_eq!(local, remote);
    }
}

#[test]
fn every_differing_row_comes_back_for_the_history() {
    let opts = DiffOptions {
        samples: 2,
        keep_keys: true,
        ..DiffOptions::default()
    };
    for (local, remote) in both_ways("fixtures/erp/recon.toml", &opts) {
        assert_eq!(local, remote);
    }
}

#[test]
fn an_executor_refuses_files_written_at_another_time() {
    let loaded = Config::load("fixtures/erp/recon.toml".as_ref()).expect("config");
    let workers = crate::Workers::new(1).expect("workers");
    let plans = crate::run::resolve_all(&loaded, &workers).expect("plans");
    let c = &loaded.config;
    let roots = (
        c.legacy.root.as_str(),
        c.target.root.as_str(),
        loaded.base_dir.as_path(),
    );
    let mut spec = PairSpec::new(&c.tables[0], &c.defaults, roots, &plans[0]);
    let as_listed = serde_json::to_vec(&spec).expect("spec");
    assert!(super::spec::resolve(&as_listed).is_ok());
    // The same names, sizes and rows, exported again.
    spec.legacy_files[0].modified = "2001-02-03T04:05:06+00:00".into();
    let again = serde_json::to_vec(&spec).expect("spec");
    let refused = super::spec::resolve(&again).err().expect("refused").chain();
    assert!(refused.contains("sees other legacy files"), "{refused}");
    assert!(refused.contains("2001-02-03T04:05:06+00:00"), "{refused}");
}

#[test]
fn rows_of_another_shape_from_a_cluster_are_an_error_not_a_panic() {
    use arrow::array::{ArrayRef, FixedSizeBinaryArray, UInt64Array};
    let word = || Arc::new(UInt64Array::from(vec![1u64])) as ArrayRef;
    let key = Arc::new(FixedSizeBinaryArray::try_from_iter([[0u8; 4]].iter()).expect("key"));
    // Six columns, but the kind is a word and the key four bytes wide.
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("kind", word()),
        ("key", key),
        ("a", word()),
        ("b", word()),
        ("c", word()),
        ("d", word()),
    ];
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let e = super::collect::<u64>(&[batch]).expect_err("refused");
    assert!(e.chain().contains("rows of another shape"), "{}", e.chain());
}
