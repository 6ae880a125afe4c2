//! Property tests of the whole engine against a simple model: whatever the file layout, row
//! order and thread count, the counts equal the model's and equal tables have equal checksums.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::*;
use proptest::prelude::*;
use recon::{Attribution, Reconciler};

use crate::common::*;

#[derive(Debug, Clone)]
struct Table {
    rows: Vec<(i64, Option<String>, i64)>,
}

fn write(path: &std::path::Path, t: &Table, row_group: usize, dec_scale: i8) {
    let id: ArrayRef = Arc::new(Int64Array::from(
        t.rows.iter().map(|r| r.0).collect::<Vec<_>>(),
    ));
    let name: ArrayRef = Arc::new(StringArray::from(
        t.rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
    ));
    let scale = 10i128.pow(u32::try_from(dec_scale).expect("scale"));
    let amt: ArrayRef = Arc::new(
        Decimal128Array::from(
            t.rows
                .iter()
                .map(|r| i128::from(r.2) * scale)
                .collect::<Vec<_>>(),
        )
        .with_precision_and_scale(38, dec_scale)
        .expect("dec"),
    );
    write_parquet(
        path,
        &[batch(vec![("id", id), ("name", name), ("amt", amt)])],
        row_group.max(1),
    );
}

fn reconcile(dir: &std::path::Path, threads: usize, attribution: Attribution) -> serde_json::Value {
    let report = Reconciler::from_path(dir.join("recon.toml"))
        .expect("config")
        .threads(threads)
        .attribution(attribution)
        .run()
        .expect("worker threads");
    let v = serde_json::to_value(&report).expect("json");
    assert_ne!(v["verdict"], "error", "{v}");
    v["tables"][0].clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn counts_match_the_model_under_any_layout(
        base in proptest::collection::btree_map(0i64..500, (proptest::option::of("[a-z]{0,3}"), -50i64..50), 0..120),
        edits in proptest::collection::vec((0usize..200, 0u8..4), 0..30),
        seed in any::<u64>(),
        rg in (1usize..40, 1usize..40),
    ) {
        let legacy = Table { rows: base.iter().map(|(k, (n, a))| (*k, n.clone(), *a)).collect() };
        let mut target: BTreeMap<i64, (Option<String>, i64)> = base.clone();
        let keys: Vec<i64> = base.keys().copied().collect();
        for (at, op) in &edits {
            if keys.is_empty() { break; }
            let k = keys[at % keys.len()];
            match op {
                0 => { target.remove(&k); }
                1 => { if let Some(v) = target.get_mut(&k) { v.1 += 1; } }
                2 => { target.insert(1000 + i64::try_from(*at).expect("at"), (None, 0)); }
                _ => { if let Some(v) = target.get_mut(&k) { v.0 = Some(format!("{}!", v.0.clone().unwrap_or_default())); } }
            }
        }
        // Model.
        let mut matched = 0; let mut changed = 0; let mut missing = 0;
        for (k, v) in &base {
            match target.get(k) { None => missing += 1, Some(t) if t == v => matched += 1, Some(_) => changed += 1 }
        }
        let extra = target.keys().filter(|k| !base.contains_key(k)).count() as u64;
        // Shuffle the target deterministically from the seed.
        let mut trows: Vec<(i64, Option<String>, i64)> = target.iter().map(|(k, (n, a))| (*k, n.clone(), *a)).collect();
        let mut s = seed;
        for i in (1..trows.len()).rev() {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            trows.swap(i, usize::try_from(s >> 33).expect("idx") % (i + 1));
        }
        let sc = Scenario::new();
        if legacy.rows.is_empty() || trows.is_empty() { return Ok(()); }
        write(&sc.path().join("legacy/t.parquet"), &legacy, rg.0, 2);
        write(&sc.path().join("target/t.parquet"), &Table { rows: trows }, rg.1, 5);
        sc.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
        let one = reconcile(sc.path(), 1, Attribution::Reread);
        let two = reconcile(sc.path(), 2, Attribution::Reread);
        let stored = reconcile(sc.path(), 2, Attribution::Store);
        prop_assert_eq!(counts(&one), (matched, changed, missing, extra));
        prop_assert_eq!(&one, &two);
        // Both ways of attributing columns give the same table, samples and classes included.
        prop_assert_eq!(&one, &stored);
        if changed + missing + extra == 0 {
            prop_assert_eq!(&one["checksums"]["legacy"], &one["checksums"]["target"]);
        }
    }
}
