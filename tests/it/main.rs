//! The one integration-test binary: runs the real `recon` binary on scenario snapshots.

mod attribution;
mod bad_input;
mod checks;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
mod cluster_run;
mod common;
mod databases;
mod engine;
mod equivalence;
mod export_consistency;
mod export_key_order;
mod export_roots;
mod formats;
mod generated;
mod history;
mod key_order;
mod library_api;
mod metrics;
mod monitor_demo;
mod names_and_partitions;
mod notify;
mod props;
mod query;
mod receiver;
mod report;
mod report_model;
mod report_outputs;
mod s3;
mod structure;
mod trust;
mod value_rules;
mod watch;
