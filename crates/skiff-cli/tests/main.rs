//! Every integration test of this crate, in one binary: one link and one compile of the
//! shared helpers instead of one per file (nextest still runs each test in its own process).

mod support;

mod cli_broker;
mod cli_cluster;
mod cli_controller;
mod cli_errors;
mod cli_group_admin;
mod cli_group_consume;
mod cli_metrics;
mod cli_produce_consume;
mod cli_stop_signal;
mod cli_time_and_follow;
mod cli_topics;
mod client_group_membership;
mod object_store_servers;
