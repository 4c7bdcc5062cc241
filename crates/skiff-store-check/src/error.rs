//! Why a store check could not run at all (as opposed to what it found: see `report`).

#[derive(Debug, thiserror::Error)]
pub enum StoreCheckError {
    #[error("store check applies to s3:// object stores, not {0}")]
    NotS3(String),
    #[error("store URL {url} names no bucket; use s3://bucket/prefix")]
    NoBucket { url: String },
}
