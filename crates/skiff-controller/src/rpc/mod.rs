//! The controller's HTTP API (HTTP/1.1, postcard bodies) on one listener: Raft RPCs between
//! controller nodes, the broker API (propose, snapshot, watch, status) and admin membership
//! changes; and the client side of the same API.

mod admin_routes;
mod broker_routes;
pub mod client;
pub mod http;
mod raft_routes;
mod server;
mod watch;
pub mod wire;

pub use client::ControllerEndpoints;
pub use server::ControllerServer;
