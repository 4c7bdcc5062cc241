use thiserror::Error;

/// Failures talking to the object store or the chunk cache.
///
/// `Clone` because one failed single-flight fetch is reported to every waiter.
#[derive(Debug, Clone, Error)]
pub enum StorageError {
    #[error("object {path} already exists")]
    AlreadyExists { path: String },

    #[error("object {path} not found")]
    NotFound { path: String },

    /// Network failures, timeouts, throttling and 5xx answers: worth retrying later.
    #[error("object store unavailable during {operation} {path}: {reason}")]
    Unavailable {
        operation: &'static str,
        path: String,
        reason: String,
    },

    #[error("invalid object store configuration: {0}")]
    Config(String),

    #[error("{operation} {path} failed: {reason}")]
    Other {
        operation: &'static str,
        path: String,
        reason: String,
    },

    #[error("chunk cache failed: {reason}")]
    Cache { reason: String },
}

impl StorageError {
    /// True when the same request may succeed if tried again later.
    pub fn is_retriable(&self) -> bool {
        matches!(self, StorageError::Unavailable { .. })
    }
}

/// A segment object that cannot be read: damaged, truncated, or from an unknown format.
#[derive(Debug, Clone, Error)]
pub enum SegmentError {
    #[error(
        "segment object is {object_len} bytes, shorter than the smallest valid segment ({min_len} bytes)"
    )]
    ObjectTooShort { object_len: u64, min_len: u64 },

    #[error("segment tail of {tail_len} bytes is longer than the object ({object_len} bytes)")]
    TailLongerThanObject { tail_len: u64, object_len: u64 },

    #[error("segment trailer magic is missing: not a Skiff segment or the object is truncated")]
    BadMagic,

    #[error("segment footer length {footer_len} is invalid for a {object_len}-byte object")]
    BadFooterLength { footer_len: u64, object_len: u64 },

    #[error("segment footer of {footer_len} bytes exceeds the {max_len}-byte limit")]
    FooterTooLarge { footer_len: u64, max_len: u64 },

    /// Not damage: the caller read too little of the tail and must fetch `needed` bytes.
    #[error("segment footer needs the last {needed} bytes of the object but only {have} were read")]
    NeedMoreTail { needed: u64, have: u64 },

    #[error("segment footer checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { stored: u32, computed: u32 },

    #[error("segment format version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u16),

    #[error("segment flags {0:#06x} are not understood by this build")]
    UnsupportedFlags(u16),

    #[error("segment footer ended in the middle of a field")]
    FooterEndedEarly,

    #[error("segment footer lists {stated} chunks but has room for {actual}")]
    ChunkCountMismatch { stated: u32, actual: u64 },

    #[error(
        "segment chunk {index} at {position}+{len} lies outside the data area {data_start}..{data_end} or overlaps the previous chunk"
    )]
    ChunkOutOfBounds {
        index: usize,
        position: u64,
        len: u64,
        data_start: u64,
        data_end: u64,
    },

    #[error(transparent)]
    Storage(#[from] StorageError),
}
