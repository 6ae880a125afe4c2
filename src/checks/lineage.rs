//! Redaction that follows the data: which base columns each output column of a check's or a
//! golden query's SQL is computed from, read from `DataFusion`'s logical plan. An output that
//! depends on a redacted column is redacted, whatever it is called (`phone AS p`,
//! `upper(phone)`, a sum over it, a scalar subquery reading it). Where a plan node is not
//! understood, every column below it counts: redaction errs on the side of hiding.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};

use crate::config::Config;
use crate::redact::RedactionKey;
use crate::side::{PerSide, Side};

/// The redacted base columns of both snapshots: `(table, column)` per side, lowercased, and the
/// redacted names themselves, which match any table (for SQL sides, whose base tables are the
/// user's).
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    columns: PerSide<BTreeSet<(String, String)>>,
    names: BTreeSet<String>,
    key: Option<Arc<RedactionKey>>,
}

impl Redaction {
    /// Every pair's `redact` columns: the legacy table's column, the target table's (renamed)
    /// column, and the name anywhere. Column names that differ only in case are one name here,
    /// so case-paired columns are covered too.
    pub fn from_config(config: &Config, key: Arc<RedactionKey>) -> Self {
        let mut r = Self {
            key: Some(key),
            ..Self::default()
        };
        for t in &config.tables {
            for name in &t.redact {
                r.add(Side::Legacy, t.legacy_table(), name, name);
                r.add(Side::Target, t.target_table(), t.target_column(name), name);
            }
        }
        r
    }

    /// Redacts `column` of `table` on `side` (physical names), and the name anywhere.
    pub fn add(&mut self, side: Side, table: &str, column: &str, name: &str) {
        self.columns
            .get_mut(side)
            .insert((table.to_lowercase(), column.to_lowercase()));
        self.names.insert(name.to_lowercase());
    }

    /// Whether anything is redacted.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The text to show for a value: itself, or its keyed digest when `redacted`.
    pub fn shown(&self, redacted: bool, text: Option<String>) -> Option<String> {
        match (&self.key, text) {
            (Some(key), Some(t)) if redacted => Some(key.digest(&t)),
            // Without a key nothing is redacted; a redacted flag cannot arise.
            (_, t) => t,
        }
    }

    fn covers(&self, side: Side, table: &str, column: &str) -> bool {
        let column = column.to_lowercase();
        self.names.contains(&column)
            || self
                .columns
                .get(side)
                .contains(&(table.to_lowercase(), column))
    }

    /// For each output column of `plan` (run on `side`), whether it depends on a redacted column.
    pub fn outputs(&self, side: Side, plan: &LogicalPlan) -> Vec<bool> {
        let n = plan.schema().fields().len();
        if self.is_empty() {
            return vec![false; n];
        }
        (0..n)
            .map(|i| {
                base_columns(plan, i)
                    .iter()
                    .any(|(t, c)| self.covers(side, t, c))
            })
            .collect()
    }
}

/// The `(table, column)` pairs at the table scans that output column `index` of `plan` is
/// computed from.
fn base_columns(plan: &LogicalPlan, index: usize) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    collect(plan, index, &mut out);
    out
}

fn collect(plan: &LogicalPlan, index: usize, out: &mut BTreeSet<(String, String)>) {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let fields = scan.projected_schema.fields();
            if let Some(f) = fields.get(index) {
                out.insert((scan.table_name.table().to_owned(), f.name().clone()));
            }
        }
        LogicalPlan::Projection(p) => match p.expr.get(index) {
            Some(e) => from_expr(e, &p.input, out),
            None => everything(plan, out),
        },
        LogicalPlan::Aggregate(a) => {
            // Output: the group expressions, then the aggregates (grouping sets add an id).
            let exprs: Vec<&Expr> = a.group_expr.iter().chain(&a.aggr_expr).collect();
            let grouping_sets = a
                .group_expr
                .iter()
                .any(|e| matches!(e, Expr::GroupingSet(_)));
            match exprs.get(index) {
                Some(e) if !grouping_sets => from_expr(e, &a.input, out),
                _ => everything(plan, out),
            }
        }
        LogicalPlan::Window(w) => {
            let passed = w.input.schema().fields().len();
            match index.checked_sub(passed) {
                None => collect(&w.input, index, out),
                Some(i) => match w.window_expr.get(i) {
                    Some(e) => from_expr(e, &w.input, out),
                    None => everything(plan, out),
                },
            }
        }
        LogicalPlan::Filter(f) => collect(&f.input, index, out),
        LogicalPlan::Sort(s) => collect(&s.input, index, out),
        LogicalPlan::Limit(l) => collect(&l.input, index, out),
        LogicalPlan::SubqueryAlias(s) => collect(&s.input, index, out),
        LogicalPlan::Repartition(r) => collect(&r.input, index, out),
        LogicalPlan::Distinct(d) => match d {
            datafusion::logical_expr::Distinct::All(input) => collect(input, index, out),
            datafusion::logical_expr::Distinct::On(_) => everything(plan, out),
        },
        LogicalPlan::Union(u) => {
            for input in &u.inputs {
                collect(input, index, out);
            }
        }
        LogicalPlan::Join(j) => {
            let left = j.left.schema().fields().len();
            match j.join_type {
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    match index.checked_sub(left) {
                        None => collect(&j.left, index, out),
                        Some(i) => collect(&j.right, i, out),
                    }
                }
                JoinType::LeftSemi | JoinType::LeftAnti => collect(&j.left, index, out),
                JoinType::RightSemi | JoinType::RightAnti => collect(&j.right, index, out),
                _ => everything(plan, out),
            }
        }
        _ => everything(plan, out),
    }
}

/// The base columns an expression over `input` reads, subqueries included.
fn from_expr(expr: &Expr, input: &LogicalPlan, out: &mut BTreeSet<(String, String)>) {
    for col in expr.column_refs() {
        match input.schema().index_of_column(col) {
            Ok(i) => collect(input, i, out),
            Err(_) => everything(input, out),
        }
    }
    // A subquery's result depends on everything it reads.
    subqueries(expr, out);
}

/// Every base column below `plan`.
fn everything(plan: &LogicalPlan, out: &mut BTreeSet<(String, String)>) {
    if let LogicalPlan::TableScan(_) = plan {
        for i in 0..plan.schema().fields().len() {
            collect(plan, i, out);
        }
        return;
    }
    for input in plan.inputs() {
        everything(input, out);
    }
    // Subqueries hidden in expressions (a filter's IN (SELECT ...)) count as well; the
    // expressions' own columns are the inputs', all counted above.
    let _ = plan.apply_expressions(|e| {
        subqueries(e, out);
        Ok(TreeNodeRecursion::Continue)
    });
}

/// Every base column of the subqueries inside an expression.
fn subqueries(expr: &Expr, out: &mut BTreeSet<(String, String)>) {
    let _ = expr.apply(|e| {
        let sub = match e {
            Expr::ScalarSubquery(s) => Some(&s.subquery),
            Expr::InSubquery(s) => Some(&s.subquery.subquery),
            Expr::Exists(s) => Some(&s.subquery.subquery),
            _ => None,
        };
        if let Some(plan) = sub {
            everything(plan, out);
        }
        Ok(TreeNodeRecursion::Continue)
    });
}
