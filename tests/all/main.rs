//! Warbler's end-to-end tests, linked into one binary. Guests are real
//! components compiled from source by the build (`policies/`, `tests/guests/`).

mod common;

mod backtest;
mod cache;
mod chatty;
mod cli;
mod cluster;
mod compare;
mod contract;
mod dashboard;
mod dashboard_browser;
mod deploy;
mod http_server;
mod interop;
mod languages;
mod load;
mod loadtester;
mod local;
mod local_cli;
mod manifest;
mod prometheus;
mod prometheus_server;
mod pull_interrupted;
mod registry;
mod registry_server;
mod registry_tls;
mod replay;
mod run_faults;
mod sandbox;
mod scaffold;
mod signatures;
mod threshold_semantics;
mod webhooks;
