//! Every integration test of this crate, in one binary: one link and one compile of the
//! shared helpers instead of one per file (nextest still runs each test in its own process).

mod support;

mod auth;
mod cluster;
mod format_fixture;
mod gc;
mod group_persistence;
mod leases;
mod lifecycle;
mod persistence;
mod storage_suite;
mod tls;
mod watch;
