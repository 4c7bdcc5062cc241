//! On-disk snapshots: one current file, replaced atomically (temp file, fsync, rename, fsync
//! of the directory) so a crash leaves either the old snapshot or the new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::types::SnapshotMeta;

const MAGIC: &[u8; 8] = b"SKFSNAP1";
const HEADER_LEN: usize = MAGIC.len() + 4 + 4;
const FILE_NAME: &str = "current.snap";
const TEMP_FILE_NAME: &str = "current.snap.tmp";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot file {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("snapshot file {} is corrupt: {reason}", .path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot encode the snapshot: {0}")]
    Encode(postcard::Error),
    #[error("snapshot contents are corrupt: {0}")]
    Decode(postcard::Error),
    #[error("snapshot contents have format version {0}; this build reads version {1}")]
    UnsupportedVersion(u8, u8),
    #[error("the snapshot store is closed: the controller is shutting down")]
    Closed,
}

/// The directory holding the current snapshot file.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    /// Held for a whole save; `true` once closed. openraft does not wait for snapshot builds
    /// when it shuts down, so closing is how a stopped controller knows no save is still
    /// running and none will start.
    closed: Arc<Mutex<bool>>,
}

impl SnapshotStore {
    /// Creates the directory if needed and removes a temp file left by a crash mid-write.
    pub fn open(dir: &Path) -> Result<Self, SnapshotError> {
        fs::create_dir_all(dir).map_err(|source| SnapshotError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let temp = dir.join(TEMP_FILE_NAME);
        match fs::remove_file(&temp) {
            Ok(()) => tracing::warn!(path = %temp.display(), "removed an unfinished snapshot file"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(SnapshotError::Io { path: temp, source }),
        }
        Ok(SnapshotStore {
            dir: dir.to_path_buf(),
            closed: Arc::new(Mutex::new(false)),
        })
    }

    /// Waits for a save in progress, then refuses every later one. Blocking.
    pub fn close(&self) {
        *self.closed.lock() = true;
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Durably replaces the current snapshot. Blocking.
    pub fn save(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), SnapshotError> {
        let closed = self.closed.lock();
        if *closed {
            return Err(SnapshotError::Closed);
        }
        let meta_bytes = postcard::to_allocvec(meta).map_err(SnapshotError::Encode)?;
        let meta_len = u32::try_from(meta_bytes.len()).map_err(|_| SnapshotError::Corrupt {
            path: self.path(),
            reason: "snapshot metadata exceeds 4 GiB".into(),
        })?;
        let checksum = crc32c::crc32c_append(crc32c::crc32c(&meta_bytes), data);
        let temp = self.dir.join(TEMP_FILE_NAME);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SnapshotError::Io { path, source }
        };
        let mut file = File::create(&temp).map_err(io_err(&temp))?;
        file.write_all(MAGIC).map_err(io_err(&temp))?;
        file.write_all(&meta_len.to_le_bytes())
            .map_err(io_err(&temp))?;
        file.write_all(&checksum.to_le_bytes())
            .map_err(io_err(&temp))?;
        file.write_all(&meta_bytes).map_err(io_err(&temp))?;
        file.write_all(data).map_err(io_err(&temp))?;
        file.sync_all().map_err(io_err(&temp))?;
        drop(file);
        let target = self.path();
        fs::rename(&temp, &target).map_err(io_err(&target))?;
        // The rename is only durable once the directory entry is.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))?;
        Ok(())
    }

    /// Reads the current snapshot, if any. Blocking.
    pub fn load(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, SnapshotError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SnapshotError::Io { path, source }),
        };
        let corrupt = |reason: &str| SnapshotError::Corrupt {
            path: path.clone(),
            reason: reason.to_string(),
        };
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or_else(|| corrupt("shorter than its header"))?;
        let (magic, rest) = header.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(corrupt("not a Skiff snapshot file"));
        }
        let (len_bytes, crc_bytes) = rest.split_at(4);
        let meta_len = u32::from_le_bytes(len_bytes.try_into().map_err(|_| corrupt("bad header"))?);
        let checksum = u32::from_le_bytes(crc_bytes.try_into().map_err(|_| corrupt("bad header"))?);
        let body = bytes.get(HEADER_LEN..).unwrap_or_default();
        let meta_len =
            usize::try_from(meta_len).map_err(|_| corrupt("metadata length too large"))?;
        if meta_len > body.len() {
            return Err(corrupt("metadata length runs past the end of the file"));
        }
        if crc32c::crc32c(body) != checksum {
            return Err(corrupt("checksum mismatch"));
        }
        let meta_bytes = body.get(..meta_len).unwrap_or_default();
        let meta: SnapshotMeta = postcard::from_bytes(meta_bytes).map_err(SnapshotError::Decode)?;
        // Reuse the file buffer for the data rather than copying what may be a large state.
        let mut data = bytes;
        data.drain(..HEADER_LEN + meta_len);
        Ok(Some((meta, data)))
    }
}
