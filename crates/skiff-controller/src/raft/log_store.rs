//! The Raft log in a redb file: entries keyed by index, plus the vote, the committed log id and
//! the last purged log id. Appends are committed with fsync before openraft hears they are
//! flushed. redb calls block, so they run on tokio's blocking pool.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Weak};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader, StorageIOError,
};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::types::{Entry, LogId, RaftStorageError, TypeConfig, Vote};

const LOG_TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META_TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const VOTE_KEY: &str = "vote";
const COMMITTED_KEY: &str = "committed";
const LAST_PURGED_KEY: &str = "last_purged";

#[derive(Debug, thiserror::Error)]
pub enum LogStoreError {
    #[error("raft log database: {0}")]
    Database(#[from] redb::Error),
    #[error("cannot encode a raft log record: {0}")]
    Encode(postcard::Error),
    #[error("raft log record '{what}' is corrupt: {source}")]
    Decode {
        what: String,
        source: postcard::Error,
    },
    #[error("raft log I/O task failed: {0}")]
    Task(String),
}

macro_rules! from_redb_error {
    ($($t:ty),*) => {$(
        impl From<$t> for LogStoreError {
            fn from(e: $t) -> Self {
                LogStoreError::Database(e.into())
            }
        }
    )*};
}
from_redb_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl LogStoreError {
    fn into_raft(self, subject: ErrorSubject<u64>, verb: ErrorVerb) -> RaftStorageError {
        StorageIOError::new(subject, verb, AnyError::new(&self)).into()
    }
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, LogStoreError> {
    postcard::from_bytes(bytes).map_err(|source| LogStoreError::Decode {
        what: what.to_string(),
        source,
    })
}

fn read_meta<T: DeserializeOwned>(db: &Database, key: &str) -> Result<Option<T>, LogStoreError> {
    let txn = db.begin_read()?;
    let table = txn.open_table(META_TABLE)?;
    let value = table.get(key)?;
    value.map(|v| decode(key, v.value())).transpose()
}

fn write_meta<T: Serialize>(
    db: &Database,
    key: &str,
    value: &T,
    durability: Durability,
) -> Result<(), LogStoreError> {
    let bytes = postcard::to_allocvec(value).map_err(LogStoreError::Encode)?;
    let mut txn = db.begin_write()?;
    txn.set_durability(durability)?;
    {
        let mut table = txn.open_table(META_TABLE)?;
        table.insert(key, bytes.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// The redb-backed Raft log. Cloning shares the database (the clone is also the log reader).
#[derive(Clone)]
pub struct RedbLogStore {
    db: Arc<Database>,
}

impl RedbLogStore {
    /// Opens or creates the log file. Blocking.
    pub fn open(path: &Path) -> Result<Self, LogStoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(LOG_TABLE)?;
        txn.open_table(META_TABLE)?;
        txn.commit()?;
        Ok(RedbLogStore { db: Arc::new(db) })
    }

    /// Lets the owner of the Raft node wait until every handle to the file is gone, so the file
    /// can be reopened (redb refuses to open a file twice).
    pub fn database_handle(&self) -> Weak<Database> {
        Arc::downgrade(&self.db)
    }

    async fn run<T, F>(&self, f: F) -> Result<T, LogStoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, LogStoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| LogStoreError::Task(e.to_string()))?
    }

    fn read_entries(
        db: &Database,
        range: (Bound<u64>, Bound<u64>),
    ) -> Result<Vec<Entry>, LogStoreError> {
        let txn = db.begin_read()?;
        let table = txn.open_table(LOG_TABLE)?;
        let mut entries = Vec::new();
        for item in table.range::<u64>(range)? {
            let (_, value) = item?;
            entries.push(decode::<Entry>("log entry", value.value())?);
        }
        Ok(entries)
    }

    fn log_state(db: &Database) -> Result<LogState<TypeConfig>, LogStoreError> {
        let last_purged: Option<LogId> = read_meta(db, LAST_PURGED_KEY)?;
        let txn = db.begin_read()?;
        let table = txn.open_table(LOG_TABLE)?;
        let last = match table.last()? {
            Some((_, value)) => Some(decode::<Entry>("log entry", value.value())?.log_id),
            None => None,
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last.or(last_purged),
        })
    }
}

impl RaftLogReader<TypeConfig> for RedbLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, RaftStorageError> {
        let bounds = (range.start_bound().cloned(), range.end_bound().cloned());
        self.run(move |db| Self::read_entries(db, bounds))
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Logs, ErrorVerb::Read))
    }
}

impl RaftLogStorage<TypeConfig> for RedbLogStore {
    type LogReader = RedbLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, RaftStorageError> {
        self.run(Self::log_state)
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Logs, ErrorVerb::Read))
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), RaftStorageError> {
        let vote = *vote;
        self.run(move |db| write_meta(db, VOTE_KEY, &vote, Durability::Immediate))
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Vote, ErrorVerb::Write))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, RaftStorageError> {
        self.run(|db| read_meta(db, VOTE_KEY))
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Vote, ErrorVerb::Read))
    }

    /// Not fsynced on its own: losing it only means a restart re-applies less before the leader
    /// commits again, and the next append's fsync persists it anyway.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), RaftStorageError> {
        self.run(move |db| write_meta(db, COMMITTED_KEY, &committed, Durability::None))
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Store, ErrorVerb::Write))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, RaftStorageError> {
        self.run(|db| Ok(read_meta::<Option<LogId>>(db, COMMITTED_KEY)?.flatten()))
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Store, ErrorVerb::Read))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), RaftStorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded: Result<Vec<(u64, Vec<u8>)>, LogStoreError> = entries
            .into_iter()
            .map(|e| {
                Ok((
                    e.log_id.index,
                    postcard::to_allocvec(&e).map_err(LogStoreError::Encode)?,
                ))
            })
            .collect();
        let result = match encoded {
            Ok(encoded) => {
                self.run(move |db| {
                    let txn = db.begin_write()?;
                    {
                        let mut table = txn.open_table(LOG_TABLE)?;
                        for (index, bytes) in &encoded {
                            table.insert(index, bytes.as_slice())?;
                        }
                    }
                    // Durability::Immediate (the default): commit returns after fsync.
                    txn.commit()?;
                    Ok(())
                })
                .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::other(e.to_string())));
                Err(e.into_raft(ErrorSubject::Logs, ErrorVerb::Write))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), RaftStorageError> {
        self.run(move |db| {
            let txn = db.begin_write()?;
            txn.open_table(LOG_TABLE)?
                .retain_in(log_id.index.., |_, _| false)?;
            txn.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| e.into_raft(ErrorSubject::Logs, ErrorVerb::Delete))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), RaftStorageError> {
        self.run(move |db| {
            let bytes = postcard::to_allocvec(&log_id).map_err(LogStoreError::Encode)?;
            let txn = db.begin_write()?;
            txn.open_table(META_TABLE)?
                .insert(LAST_PURGED_KEY, bytes.as_slice())?;
            txn.open_table(LOG_TABLE)?
                .retain_in(..=log_id.index, |_, _| false)?;
            txn.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| e.into_raft(ErrorSubject::Logs, ErrorVerb::Delete))
    }
}
