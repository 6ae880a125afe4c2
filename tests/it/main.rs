//! The one integration-test binary: runs the real `recon` binary on scenario snapshots.

mod bad_input;
mod checks;
mod common;
mod databases;
mod edge_edges;
mod edge_model;
mod edge_paths;
mod edge_reports;
mod edge_servers;
mod edge_values;
mod engine;
mod equivalence;
mod formats;
mod generated;
mod props;
mod query;
mod report;
mod s3;
mod structure;
mod trust;
