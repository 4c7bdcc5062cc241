//! Every integration test of this crate, in one binary: one link and one compile of the
//! shared helpers instead of one per file (nextest still runs each test in its own process).

mod cluster_support;
mod group_support;
mod support;

mod acls;
mod acls_two_brokers;
mod bad_batches;
mod bad_input;
mod broker_restart;
mod connection_limits;
mod controller_failover;
mod fetch_limits;
mod group_coordinator_choice;
mod group_limits;
mod group_membership;
mod group_offsets;
mod group_restart;
mod idle_connections;
mod lease_handover;
mod metrics;
mod produce_fetch;
mod sasl;
mod store_outage;
mod stored_bad_batches;
mod transactions;
mod two_brokers;
mod versions;
