//! skiff-archive: topics as Apache Iceberg tables of Parquet files in Skiff's own object store,
//! for DuckDB, Athena, Trino, Spark or pandas to query without a consumer.
//!
//! - [`rows`]: stored record batches (any codec) into Arrow rows of the archive schema, through
//!   the record walk `skiff-records` shares with produce validation.
//! - [`schema`]: the table's columns (Iceberg schema → Arrow schema) and partitioning
//!   (`partition=<p>/date=<yyyy-mm-dd>`).
//! - [`storage`]: the `iceberg` crate's `Storage` over [`skiff_storage::SegmentStore`].
//! - [`catalog`]: an Iceberg catalog that writes `v<N>.metadata.json` files and leaves the
//!   table pointer to the controller.
//! - [`source`]: a topic's stored batches, planned from the controller state and read from
//!   the store with their real offsets.
//! - [`pass`]: one archive pass: begin at the committed metadata, write data files, append
//!   them in one snapshot, and hand back what to commit.
//! - `retention`: `skiff.archive.retention.ms`, a delete snapshot removing data files whose
//!   records all passed it (written by hand: the crate has no such action).
//! - [`compaction`]: a replace snapshot on a commit that left too many manifests or small
//!   files: small files of a folder rewritten into bigger ones, manifests merged into one
//!   (written by hand: the crate has no rewrite action).
//! - [`glue`]: registering each table in the AWS Glue Data Catalog after its commits.
//! - [`orphans`]: after a commit, deleting the files under the table's folder that the
//!   committed metadata does not reach (what passes that never committed left).
//!
//! Only crates that archive link this one, so the broker and controller libraries never
//! compile arrow, parquet or iceberg.

pub mod catalog;
pub mod compaction;
mod error;
pub mod glue;
pub mod orphans;
pub mod pass;
mod retention;
pub mod rows;
pub mod schema;
pub mod source;
pub mod storage;

pub use compaction::CompactionConfig;
pub use error::ArchiveError;
pub use orphans::{OrphanSweep, collect_orphans};
pub use pass::{ArchiveCommit, ArchivePass, PassConfig, publish_version_hint, table_path};
pub use source::TopicPlan;
