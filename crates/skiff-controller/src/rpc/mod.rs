//! The client side of the controller's HTTP API and what travels over it: the request and
//! reply bodies ([`wire`]), one pooled HTTP client ([`http`]), Raft's network between nodes,
//! and [`ControllerEndpoints`] for brokers and admins. The serving side is `crate::server`.

pub mod client;
pub mod http;
mod raft_network;
pub mod wire;

pub use client::ControllerEndpoints;
pub use raft_network::HttpNetwork;
