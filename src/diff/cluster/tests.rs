//! The cluster path against the local engine, on `DataFusion`'s own executor: every job goes
//! through the codec (encoded and decoded as a scheduler and its executors do) and runs with
//! its shuffle as local repartitioning. The tests through real Ballista processes are in
//! `tests/it/cluster.rs`.

use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::UInt8Type;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};

use super::{PairSpec, ReconCodec, Remote, Submit};
use crate::config::Config;
use crate::diff::{Attribution, DiffOptions, reconcile};
use crate::error::{Error, Result};

/// Runs each job here, after a round trip through the codec, counting the candidates that come
/// back attributed and those left to the client.
#[derive(Debug, Default)]
struct HereAfterTheWire {
    attributed: AtomicU64,
    left: AtomicU64,
}

impl Submit for HereAfterTheWire {
    fn submit(
        &self,
        _: &str,
        plan: Arc<dyn ExecutionPlan>,
        _: &(dyn Fn(u8) + Sync),
    ) -> Result<Vec<RecordBatch>> {
        let batches = run_here(plan)?;
        for b in &batches {
            let kinds = b.column(0).as_primitive::<UInt8Type>();
            let columns = b.column(6);
            for i in 0..b.num_rows() {
                if kinds.value(i) == super::Kind::Candidate as u8 {
                    let n = if columns.is_null(i) {
                        &self.left
                    } else {
                        &self.attributed
                    };
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(batches)
    }
}

/// Runs a job here, after a round trip through the codec.
fn run_here(plan: Arc<dyn ExecutionPlan>) -> Result<Vec<RecordBatch>> {
    let df = |e| Error::failed("a job run here".to_owned(), e);
    let bytes = physical_plan_to_bytes_with_extension_codec(plan, &ReconCodec).map_err(df)?;
    let ctx = SessionContext::new();
    let plan = physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &ReconCodec)
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

/// Each pair's diff from the local engine and from the cluster path, and what the cluster's
/// candidates came back as (attributed, left to the client).
fn both_ways(config: &str, opts: &DiffOptions) -> (Vec<(String, String)>, (u64, u64)) {
    let loaded = Config::load(config.as_ref()).expect("config");
    let workers = crate::Workers::new(2).expect("workers");
    let plans = crate::run::resolve_all(&loaded, &workers).expect("plans");
    let c = &loaded.config;
    let here = Arc::new(HereAfterTheWire::default());
    let cluster: Arc<dyn Submit> = Arc::clone(&here) as Arc<dyn Submit>;
    let pairs = c
        .tables
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
        .collect();
    let seen = (
        here.attributed.load(Ordering::Relaxed),
        here.left.load(Ordering::Relaxed),
    );
    (pairs, seen)
}

#[test]
fn every_erp_pair_gives_the_local_engines_diff() {
    let opts = DiffOptions {
        samples: 5,
        ..DiffOptions::default()
    };
    let (pairs, (attributed, left)) = both_ways("fixtures/erp/recon.toml", &opts);
    assert!(pairs.len() >= 4);
    for (local, remote) in pairs {
        assert_eq!(local, remote);
    }
    // Without a history the executors attribute every changed pair themselves.
    assert!(attributed > 0);
    assert_eq!(left, 0);
}

#[test]
fn either_attribution_gives_the_local_engines_diff() {
    for (attribution, on_executors) in [(Attribution::Store, true), (Attribution::Reread, false)] {
        let opts = DiffOptions {
            samples: 3,
            attribution,
            ..DiffOptions::default()
        };
        let (pairs, (attributed, left)) = both_ways("fixtures/erp/recon.toml", &opts);
        for (local, remote) in pairs {
            assert_eq!(local, remote, "{attribution:?}");
        }
        let (there, here) = if on_executors {
            (attributed, left)
        } else {
            (left, attributed)
        };
        assert!(there > 0, "{attribution:?}");
        assert_eq!(here, 0, "{attribution:?}");
    }
}

#[test]
fn every_differing_row_comes_back_for_the_history() {
    let opts = DiffOptions {
        samples: 2,
        keep_keys: true,
        ..DiffOptions::default()
    };
    for (local, remote) in both_ways("fixtures/erp/recon.toml", &opts).0 {
        assert_eq!(local, remote);
    }
}

/// The generated ERP config and the spec of its first pair.
fn first_erp_spec() -> (crate::config::LoadedConfig, PairSpec) {
    let loaded = Config::load("fixtures/erp/recon.toml".as_ref()).expect("config");
    let workers = crate::Workers::new(1).expect("workers");
    let plans = crate::run::resolve_all(&loaded, &workers).expect("plans");
    let c = &loaded.config;
    let roots = (
        c.legacy.root.as_str(),
        c.target.root.as_str(),
        loaded.base_dir.as_path(),
    );
    let spec = PairSpec::new(&c.tables[0], &c.defaults, roots, &plans[0]);
    (loaded, spec)
}

#[test]
fn an_executor_refuses_files_written_at_another_time() {
    let (_, mut spec) = first_erp_spec();
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
    let e = super::collect::<u64>(&[batch], 1).expect_err("refused");
    assert!(e.chain().contains("rows of another shape"), "{}", e.chain());
}

#[test]
fn a_candidates_columns_are_read_as_written_or_refused() {
    use super::{Settled, settled_of};
    assert_eq!(settled_of(&[], 3), Some(Settled::Equal));
    assert_eq!(
        settled_of(&[0, 0, 2, 0], 3),
        Some(Settled::Differ(vec![0, 2]))
    );
    // A column the pair does not have, or half a column.
    assert_eq!(settled_of(&[3, 0], 3), None);
    assert_eq!(settled_of(&[1, 0, 1], 3), None);
}

/// Links every file below `from` into `to`, folders made anew: the same files (contents, sizes,
/// write times) at another path.
fn link_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            link_tree(&entry.path(), &target);
        } else {
            std::fs::hard_link(entry.path(), &target).expect("link");
        }
    }
}

#[test]
fn an_executor_may_see_the_shared_snapshot_at_another_path() {
    // The client planned with the snapshot where the config's root resolves on its machine.
    let (loaded, mut spec) = first_erp_spec();
    let legacy = loaded.base_dir.join(&loaded.config.legacy.root);
    // On the executor the root names a symbolic link to the same files at another mount point.
    let work = tempfile::tempdir_in(".").expect("tempdir");
    let (link, mount) = (work.path().join("root"), work.path().join("mount"));
    link_tree(&legacy, &mount);
    std::os::unix::fs::symlink(std::path::absolute(&mount).expect("absolute"), &link)
        .expect("link");
    spec.legacy_root = std::path::absolute(&link)
        .expect("absolute")
        .to_str()
        .expect("utf-8")
        .to_owned();
    let on_the_executor = serde_json::to_vec(&spec).expect("spec");
    assert!(super::spec::resolve(&on_the_executor).is_ok());
}
