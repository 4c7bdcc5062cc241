//! skiff-jobs: the background jobs brokers run for the controller, kept apart from the Kafka
//! request path.
//!
//! The controller's leader plans a job (`PlanJobs`) and leases it to one live broker; the
//! broker sees the lease in its replica of the controller state, runs the job, renews the lease
//! while it works (`RenewJobLeases`) and commits the result in one proposal (`CommitJob`),
//! which swaps the entries the job read for the ones it wrote only if the former are all still
//! there. A broker that dies mid-job stops renewing; the leader drops the lapsed lease
//! (`ExpireJobs`) and plans the work again, for any broker. What a lost or abandoned job
//! uploaded is an orphan the leader's collector deletes after its grace period.
//!
//! - [`JobRunner`]: one per broker; starts the jobs leased to it (a bounded number at a time),
//!   renews their leases, and cancels and drains them on shutdown.
//! - [`work`]: what each [`skiff_meta::JobKind`] does: [`merge`], key [`compact`]ion, and
//!   [`archive`], which appends topics to their Iceberg tables (`skiff-archive`) and commits
//!   with `CommitArchive` rather than `CommitJob`. A broker runs the merges leased to it
//!   together ([`merge_bundle`]): one object, one PUT and one `CommitMerges` for all of them.

pub mod archive;
mod background;
pub mod compact;
mod config;
mod context;
mod error;
pub mod merge;
pub mod merge_bundle;
mod metrics;
mod runner;
pub mod work;

pub use config::JobRunnerConfig;
pub use error::JobFailure;
pub use metrics::describe_metrics;
pub use runner::{Clock, JobRunner, wall_clock};
