//! The controller as a separate process sees it: proposals over HTTP and a local replica of
//! the state kept current by a watch stream, so brokers read metadata and the partition index
//! from memory and never ask the controller per client request.

mod follower;
mod remote_controller;
mod replica;

pub use remote_controller::{RemoteController, RemoteControllerConfig};
pub use replica::{ReplicaError, StateReplica};
