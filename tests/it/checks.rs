//! SQL checks end to end: each kind passing and failing, grouped totals, decimal exactness,
//! orphans old and new, golden queries, read-only refusal, and broken checks.

use std::sync::Arc;

use arrow::array::*;
use serde_json::Value;

use crate::common::*;

fn ids(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

fn money(v: &[i128], scale: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(v.to_vec())
            .with_precision_and_scale(18, scale)
            .expect("decimal"),
    )
}

/// Orders in two tenants; the target renames the table and the amount column.
fn orders(s: &Scenario, target_amounts: &[i128], target_ids: &[i64]) {
    let tenants: Vec<i64> = (0..4).map(|i| i % 2 + 1).collect();
    s.legacy(
        "orders",
        batch(vec![
            ("id", ids(&[1, 2, 3, 4])),
            ("tenant_id", ids(&tenants)),
            ("amount", money(&[1000, 2000, 3000, 4000], 2)),
        ]),
    );
    let tt: Vec<i64> = target_ids.iter().map(|i| (i - 1) % 2 + 1).collect();
    s.target(
        "work_orders",
        batch(vec![
            ("id", ids(target_ids)),
            ("tenant_id", ids(&tt)),
            ("total", money(target_amounts, 4)),
        ]),
    );
}

const PAIR: &str = "[[tables]]\nname = \"orders\"\ntarget = \"work_orders\"\nkey = [\"id\"]\nrename = { amount = \"total\" }\n";

#[test]
fn counts_pass_and_fail_by_group() {
    let s = Scenario::new();
    orders(&s, &[100_000, 200_000, 300_000], &[1, 2, 3]);
    s.config(&format!("{PAIR}\n[[checks]]\nkind = \"count\"\ntable = \"orders\"\n\n[[checks]]\nkind = \"count\"\ntable = \"orders\"\ngroup_by = [\"tenant_id\"]\n\n[[checks]]\nid = \"counts.tenant1\"\nkind = \"count\"\ntable = \"orders\"\nlegacy_sql = \"SELECT COUNT(*) FROM orders WHERE tenant_id = 1\"\ntarget_sql = \"SELECT COUNT(*) FROM work_orders WHERE tenant_id = 1\"\n"));
    let (_, r) = run_report(&s, &[]);
    let total = check(&r, "counts.orders");
    assert_eq!(total["status"], "critical");
    assert_eq!(total["measured"]["legacy"], "4");
    assert_eq!(total["measured"]["target"], "3");
    let grouped = check(&r, "counts.orders.by_tenant_id");
    assert_eq!(grouped["measured"]["groups"]["differing"], 1);
    assert_eq!(grouped["measured"]["differing_groups"][0]["group"][0], "2");
    assert_eq!(check(&r, "counts.tenant1")["status"], "pass");
}

#[test]
fn totals_catch_a_swap_between_tenants_that_the_overall_total_hides() {
    let s = Scenario::new();
    // Orders 1 (tenant 1) and 2 (tenant 2) swap amounts; the grand total is unchanged.
    orders(&s, &[200_000, 100_000, 300_000, 400_000], &[1, 2, 3, 4]);
    s.config(&format!("{PAIR}\n[[checks]]\nkind = \"total\"\ntable = \"orders\"\ncolumn = \"amount\"\n\n[[checks]]\nkind = \"total\"\ntable = \"orders\"\ncolumn = \"amount\"\ngroup_by = [\"tenant_id\"]\n"));
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 3);
    let overall = check(&r, "totals.orders.amount");
    assert_eq!(overall["status"], "pass", "{overall}");
    assert_eq!(overall["measured"]["legacy"], "100");
    assert_eq!(overall["measured"]["target"], "100");
    let grouped = check(&r, "totals.orders.amount.by_tenant_id");
    assert_eq!(grouped["status"], "critical");
    assert_eq!(
        grouped["measured"]["differing_groups"][0]["difference"],
        "10"
    );
    assert_eq!(grouped["findings"][0]["metric"], "differing_groups");
}

#[test]
fn totals_honour_the_tolerance_in_currency_units() {
    let s = Scenario::new();
    orders(&s, &[100_040, 200_000, 300_000, 400_000], &[1, 2, 3, 4]);
    s.config(&format!("{PAIR}\n[[checks]]\nid = \"loose\"\nkind = \"total\"\ntable = \"orders\"\ncolumn = \"amount\"\ntolerance = \"0.005\"\n\n[[checks]]\nid = \"strict\"\nkind = \"total\"\ntable = \"orders\"\ncolumn = \"amount\"\n"));
    let (_, r) = run_report(&s, &[]);
    assert_eq!(check(&r, "loose")["status"], "pass");
    assert_eq!(
        check(&r, "strict")["status"],
        "critical",
        "0.004 off is not equal"
    );
    assert_eq!(
        check(&r, "strict")["measured"]["differing_groups"][0]["difference"],
        "0.004"
    );
}

#[test]
fn a_sum_over_a_million_values_is_exact_to_the_last_digit() {
    let s = Scenario::new();
    let n = 1_000_000i64;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let values: Vec<i128> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            i128::from(x % 1_000_000_000_000) - 500_000_000_000
        })
        .collect();
    let expected: i128 = values.iter().sum();
    let all: Vec<i64> = (1..=n).collect();
    let table = batch(vec![("id", ids(&all)), ("amount", money(&values, 3))]);
    write_parquet(
        &s.path().join("legacy/t.parquet"),
        std::slice::from_ref(&table),
        200_000,
    );
    write_parquet(&s.path().join("target/t.parquet"), &[table], 300_000);
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"total\"\ntable = \"t\"\ncolumn = \"amount\"\n");
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 0);
    let want = format!("{}.{:03}", expected / 1000, (expected % 1000).abs());
    let want = if expected < 0 && expected / 1000 == 0 {
        format!("-{want}")
    } else {
        want
    };
    let got = check(&r, "totals.t.amount")["measured"]["legacy"]
        .as_str()
        .expect("sum")
        .to_owned();
    // The report normalizes trailing zeros away; compare as exact decimals.
    let norm = |t: &str| t.trim_end_matches('0').trim_end_matches('.').to_owned();
    assert_eq!(norm(&got), norm(&want));
}

#[test]
fn orphans_new_and_old_and_tenant_consistency() {
    let s = Scenario::new();
    s.legacy(
        "parents",
        batch(vec![("id", ids(&[1, 2, 3])), ("tenant", ids(&[1, 1, 2]))]),
    );
    s.target(
        "parents",
        batch(vec![("id", ids(&[1, 3])), ("tenant", ids(&[1, 2]))]),
    );
    // Child 10 references 9 (an orphan on both sides: old); child 11 references 2, which the
    // target lost (new); child 12 has a NULL reference; child 13 points at another tenant's parent.
    let refs: ArrayRef = Arc::new(Int64Array::from(vec![Some(9), Some(2), None, Some(3)]));
    let child = batch(vec![
        ("id", ids(&[10, 11, 12, 13])),
        ("parent_id", refs),
        ("tenant", ids(&[1, 1, 1, 1])),
    ]);
    s.legacy("children", child.clone());
    s.target("children", child);
    s.config("[[tables]]\nname = \"parents\"\nkey = [\"id\"]\n[[tables]]\nname = \"children\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"orphan\"\ntable = \"children\"\ncolumns = [\"parent_id\"]\nparent = \"parents\"\ntenant = \"tenant\"\n\n[[checks]]\nid = \"with_nulls\"\nkind = \"orphan\"\ntable = \"children\"\ncolumns = [\"parent_id\"]\nparent = \"parents\"\nnull_is_orphan = true\n");
    let (_, r) = run_report(&s, &[]);
    let c = check(&r, "orphans.children.parent_id.parents");
    assert_eq!(c["measured"]["orphans"]["legacy"], 1);
    assert_eq!(c["measured"]["orphans"]["target"], 2);
    assert_eq!(c["measured"]["new_orphans"], 1);
    assert_eq!(c["measured"]["samples"]["new"][0]["id"], "11");
    assert_eq!(c["measured"]["tenant_mismatches"]["legacy"], 1);
    assert_eq!(c["measured"]["tenant_mismatches"]["new"], 0);
    assert_eq!(c["status"], "critical");
    let n = check(&r, "with_nulls");
    assert_eq!(n["measured"]["orphans"]["legacy"], 2, "{n}");
}

#[test]
fn invariants_per_side_with_samples() {
    let s = Scenario::new();
    let t = |f: &[i128]| {
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("parts", money(&[100, 200, 300], 2)),
            ("final", money(f, 2)),
            (
                "status",
                Arc::new(StringArray::from(vec!["Open", "Draft", "Open"])) as ArrayRef,
            ),
        ])
    };
    s.legacy("o", t(&[100, 200, 300]));
    s.target("o", t(&[100, 201, 300]));
    s.config("[[tables]]\nname = \"o\"\nkey = [\"id\"]\n\n[[checks]]\nid = \"sum\"\nkind = \"invariant\"\ntable = \"o\"\npredicate = \"final = parts\"\n\n[[checks]]\nid = \"status\"\nkind = \"invariant\"\ntable = \"o\"\npredicate = \"status IN ('Open', 'Draft')\"\n\n[[checks]]\nid = \"legacy_only\"\nkind = \"invariant\"\ntable = \"o\"\npredicate = \"final = parts\"\nsides = [\"legacy\"]\n");
    let (_, r) = run_report(&s, &[]);
    let sum = check(&r, "sum");
    assert_eq!(sum["status"], "critical");
    assert_eq!(sum["measured"]["violations"]["legacy"], 0);
    assert_eq!(sum["measured"]["violations"]["target"], 1);
    assert_eq!(sum["measured"]["samples"]["target"][0][0], "2");
    assert_eq!(check(&r, "status")["status"], "pass");
    assert_eq!(check(&r, "legacy_only")["status"], "pass");
    assert_eq!(
        check(&r, "legacy_only")["measured"]["violations"]["target"],
        Value::Null
    );
}

#[test]
fn golden_queries_with_tolerance_and_per_side_sql() {
    let s = Scenario::new();
    orders(&s, &[100_030, 200_000, 300_000, 400_000], &[1, 2, 3, 4]);
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(q.join("by_tenant.legacy.sql"), "-- key: tenant_id\n-- tolerance: revenue=0.005\nSELECT tenant_id, SUM(amount) AS revenue FROM orders GROUP BY tenant_id\n").expect("write");
    std::fs::write(
        q.join("by_tenant.target.sql"),
        "SELECT tenant_id, SUM(total) AS revenue FROM work_orders GROUP BY tenant_id\n",
    )
    .expect("write");
    std::fs::write(q.join("strict.legacy.sql"), "-- name: strict_revenue\n-- key: tenant_id\nSELECT tenant_id, SUM(amount) AS revenue FROM legacy.orders GROUP BY tenant_id\n").expect("write");
    std::fs::write(
        q.join("strict.target.sql"),
        "SELECT tenant_id, SUM(total) AS revenue FROM target.work_orders GROUP BY tenant_id\n",
    )
    .expect("write");
    std::fs::write(
        q.join("tenants.sql"),
        "-- key: tenant_id\nSELECT DISTINCT tenant_id FROM {side}.orders\n",
    )
    .expect("write");
    s.config(&format!("{PAIR}\n[golden]\ndir = \"queries\"\n"));
    let (code, r) = run_report(&s, &[]);
    assert_eq!(check(&r, "golden.by_tenant")["status"], "pass");
    let strict = check(&r, "golden.strict_revenue");
    assert_eq!(strict["status"], "critical");
    assert_eq!(strict["measured"]["differing"][0]["columns"][0], "revenue");
    assert_eq!(
        strict["measured"]["differing"][0]["legacy"]["revenue"],
        "40"
    );
    assert_eq!(
        strict["measured"]["differing"][0]["target"]["revenue"],
        "40.003"
    );
    // `{side}.orders` does not exist on the target: an error, with the file named.
    let broken = check(&r, "golden.tenants");
    assert_eq!(broken["status"], "error");
    assert!(
        broken["reason"]
            .as_str()
            .expect("reason")
            .contains("tenants.sql"),
        "{broken}"
    );
    assert_eq!(
        code, 2,
        "a check that cannot run means recon could not decide"
    );
}

#[test]
fn writes_are_refused_and_a_broken_check_does_not_hide_the_others() {
    let s = Scenario::new();
    orders(&s, &[100_000, 200_000, 300_000, 400_000], &[1, 2, 3, 4]);
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(
        q.join("copy.sql"),
        "-- key: id\nCOPY (SELECT 1 AS id) TO '/tmp/recon-should-not-exist.csv'\n",
    )
    .expect("write");
    s.config(&format!(
        "{PAIR}\n[[checks]]\nid = \"drop\"\nkind = \"count\"\nlegacy_sql = \"DROP TABLE orders\"\ntarget_sql = \"SELECT COUNT(*) FROM work_orders\"\n\n[[checks]]\nid = \"typo\"\nkind = \"invariant\"\ntable = \"orders\"\npredicate = \"amont > 0\"\n\n[[checks]]\nkind = \"count\"\ntable = \"orders\"\n\n[golden]\ndir = \"queries\"\n"
    ));
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let r = s.report();
    assert_eq!(r["verdict"], "error");
    let drop = check(&r, "drop");
    assert_eq!(drop["status"], "error");
    assert!(
        drop["reason"]
            .as_str()
            .expect("reason")
            .contains("recon.toml:"),
        "{drop}"
    );
    let typo = check(&r, "typo");
    assert_eq!(typo["status"], "error");
    assert!(
        typo["reason"].as_str().expect("reason").contains("amont"),
        "{typo}"
    );
    assert_eq!(check(&r, "golden.copy")["status"], "error");
    assert!(!std::path::Path::new("/tmp/recon-should-not-exist.csv").exists());
    assert_eq!(
        check(&r, "counts.orders")["status"],
        "pass",
        "the healthy check still ran"
    );
    assert_eq!(table(&r, "orders")["status"], "pass");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("counts.orders"), "{stdout}");
}

#[test]
fn check_config_mistakes_are_caught_before_any_work() {
    let s = Scenario::new();
    orders(&s, &[100_000], &[1]);
    s.config(&format!(
        "{PAIR}\n[[checks]]\nkind = \"total\"\ntable = \"orders\"\n"
    ));
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`column` names the money column")
            || String::from_utf8_lossy(&out.stdout).contains("`column` names the money column")
    );
    s.config(&format!(
        "{PAIR}\n[[checks]]\nkind = \"count\"\ntable = \"nope\"\n"
    ));
    assert_eq!(s.run(&[]).status.code(), Some(2));
    assert!(
        s.report()["error"]
            .as_str()
            .expect("error")
            .contains("no table pair named `nope`")
    );
}
