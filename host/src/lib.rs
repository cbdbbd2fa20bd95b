//! Warbler: progressive delivery whose analysis is a sandboxed WebAssembly
//! policy.
//!
//! The host does every mechanical thing; at each analysis step it asks a
//! policy component what to do. This crate holds the policy runtime
//! ([`policy`]) and the command line ([`cli`]).

pub mod backtest;
pub mod canary;
pub mod case_table;
pub mod cli;
pub mod dashboard;
pub mod earlier_steps;
pub mod hooks;
pub mod http;
pub mod journal;
pub mod judge;
pub mod kube;
pub mod load;
pub mod loadtester;
pub mod local;
pub mod metrics;
pub mod oci;
pub mod policy;
pub mod ports;
pub mod reconciler;
pub mod replay;
pub mod sample_app;
pub mod scaffold;
pub mod serve;
