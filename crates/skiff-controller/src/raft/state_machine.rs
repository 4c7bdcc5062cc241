//! The openraft state machine: applies committed commands to the shared [`ControllerState`],
//! publishes the last applied index, and builds, installs and serves snapshots.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder,
    StorageIOError,
};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::applied_log::AppliedLog;
use super::snapshot::{SnapshotError, SnapshotStore};
use super::types::{
    Entry, LogId, RaftStorageError, Snapshot, SnapshotMeta, StoredMembership, TypeConfig,
};
use skiff_meta::CommandResponse;
use skiff_meta::state::{
    ControllerState, ControllerStateV1, ControllerStateV2, ControllerStateV3, ControllerStateV4,
    ControllerStateV5, ControllerStateV6, ControllerStateV7, ControllerStateV8, ControllerStateV9,
};

/// Bumped when the snapshot payload layout changes incompatibly. 2 added consumer groups,
/// 3 broker leases, 4 the live broker history (group write fencing), 5 the storage lifecycle
/// (retention defaults, unreferenced objects, jobs), 6 the collected orphans' keys and the
/// archive progress, 7 the SCRAM users, 8 the dynamic broker configs, 9 the ACLs, 10 the
/// transaction coordinator. Every earlier layout is still read, so older data directories
/// start.
const SNAPSHOT_FORMAT_VERSION: u8 = 10;

/// What has been applied: kept next to the state so snapshots capture both consistently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct AppliedMeta {
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

/// Shared by the state machine task, snapshot builders and the broker's readers.
struct Shared {
    state: Arc<RwLock<ControllerState>>,
    /// Only written while `state`'s write lock is held, so a reader holding the read lock sees
    /// the meta that matches the state.
    applied: Mutex<AppliedMeta>,
    applied_tx: watch::Sender<u64>,
    snapshots: SnapshotStore,
    /// Recently applied entries for watch streams; written under `state`'s write lock.
    recent: AppliedLog,
}

impl Shared {
    fn replace(&self, meta: AppliedMeta, state: ControllerState) {
        let index = meta.last_applied.map_or(0, |l| l.index);
        {
            let mut guard = self.state.write();
            *guard = state;
            *self.applied.lock() = meta;
            self.recent.reset(index);
        }
        self.applied_tx.send_replace(index);
    }
}

fn encode_payload(meta: &AppliedMeta, state: &ControllerState) -> Result<Vec<u8>, SnapshotError> {
    postcard::to_extend(&(meta, state), vec![SNAPSHOT_FORMAT_VERSION])
        .map_err(SnapshotError::Encode)
}

fn decode_payload(data: &[u8]) -> Result<(AppliedMeta, ControllerState), SnapshotError> {
    match data.split_first() {
        Some((&SNAPSHOT_FORMAT_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(SnapshotError::Decode)
        }
        Some((9, rest)) => decode_legacy::<ControllerStateV9>(rest),
        Some((8, rest)) => decode_legacy::<ControllerStateV8>(rest),
        Some((7, rest)) => decode_legacy::<ControllerStateV7>(rest),
        Some((6, rest)) => decode_legacy::<ControllerStateV6>(rest),
        Some((5, rest)) => decode_legacy::<ControllerStateV5>(rest),
        Some((4, rest)) => decode_legacy::<ControllerStateV4>(rest),
        Some((3, rest)) => decode_legacy::<ControllerStateV3>(rest),
        Some((2, rest)) => decode_legacy::<ControllerStateV2>(rest),
        Some((1, rest)) => decode_legacy::<ControllerStateV1>(rest),
        Some((&other, _)) => Err(SnapshotError::UnsupportedVersion(
            other,
            SNAPSHOT_FORMAT_VERSION,
        )),
        None => Err(SnapshotError::UnsupportedVersion(
            0,
            SNAPSHOT_FORMAT_VERSION,
        )),
    }
}

/// Reads an earlier snapshot layout and brings it up to the current state.
fn decode_legacy<Layout>(rest: &[u8]) -> Result<(AppliedMeta, ControllerState), SnapshotError>
where
    Layout: serde::de::DeserializeOwned + Into<ControllerState>,
{
    let (meta, state): (AppliedMeta, Layout) =
        postcard::from_bytes(rest).map_err(SnapshotError::Decode)?;
    Ok((meta, state.into()))
}

fn snapshot_failure(
    meta: Option<&SnapshotMeta>,
    verb: ErrorVerb,
    e: &(dyn std::error::Error + 'static),
) -> RaftStorageError {
    let subject = ErrorSubject::Snapshot(meta.map(SnapshotMeta::signature));
    StorageIOError::new(subject, verb, AnyError::from_dyn(e, None)).into()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SnapshotError> + Send + 'static,
    verb: ErrorVerb,
) -> Result<T, RaftStorageError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| snapshot_failure(None, verb, &e)),
        Err(join) => Err(snapshot_failure(None, verb, &join)),
    }
}

pub struct ControllerStateMachine {
    shared: Arc<Shared>,
}

impl ControllerStateMachine {
    /// Opens the snapshot directory and loads the latest snapshot, if any. Blocking.
    pub fn open(snapshot_dir: &Path, recent_entries: usize) -> Result<Self, SnapshotError> {
        let snapshots = SnapshotStore::open(snapshot_dir)?;
        let (meta, state) = match snapshots.load()? {
            Some((_, data)) => decode_payload(&data)?,
            None => (AppliedMeta::default(), ControllerState::default()),
        };
        let index = meta.last_applied.map_or(0, |l| l.index);
        if let Some(last) = meta.last_applied {
            tracing::info!(last_applied = %last, "loaded controller snapshot");
        }
        let (applied_tx, _) = watch::channel(index);
        Ok(ControllerStateMachine {
            shared: Arc::new(Shared {
                state: Arc::new(RwLock::new(state)),
                applied: Mutex::new(meta),
                applied_tx,
                snapshots,
                recent: AppliedLog::new(recent_entries, index),
            }),
        })
    }

    /// The state this machine applies to; readers take the read lock.
    pub fn state(&self) -> Arc<RwLock<ControllerState>> {
        Arc::clone(&self.shared.state)
    }

    /// The snapshot files, so the controller can close them on shutdown.
    pub fn snapshot_store(&self) -> SnapshotStore {
        self.shared.snapshots.clone()
    }

    /// Watches the index of the last applied log entry.
    pub fn applied_index(&self) -> watch::Receiver<u64> {
        self.shared.applied_tx.subscribe()
    }

    /// The ring of recently applied entries that watch streams read.
    pub fn applied_log(&self) -> AppliedLog {
        self.shared.recent.clone()
    }

    /// Reads the whole state with the index it reflects, for brokers bootstrapping a replica.
    pub fn state_source(&self) -> StateSource {
        StateSource {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Encodes the applied state together with the index it reflects.
#[derive(Clone)]
pub struct StateSource {
    shared: Arc<Shared>,
}

impl StateSource {
    /// The last applied index and the postcard-encoded `ControllerState` at that index.
    /// Holds the state read lock while encoding (as a snapshot build does); call it from a
    /// blocking task.
    pub fn encode(&self) -> Result<(u64, Vec<u8>), postcard::Error> {
        let state = self.shared.state.read();
        let index = self
            .shared
            .applied
            .lock()
            .last_applied
            .map_or(0, |l| l.index);
        Ok((index, postcard::to_allocvec(&*state)?))
    }
}

/// Gauge: bytes of the last controller snapshot this node built (named here, where it is set,
/// so the Raft storage does not depend on the metrics module).
pub const CONTROLLER_SNAPSHOT_BYTES: &str = "skiff_controller_snapshot_bytes";

/// Builds a snapshot of the state as of the moment it takes the read lock.
pub struct ControllerSnapshotBuilder {
    shared: Arc<Shared>,
}

impl RaftSnapshotBuilder<TypeConfig> for ControllerSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, RaftStorageError> {
        let shared = Arc::clone(&self.shared);
        let (meta, data) = blocking(
            move || {
                let (applied, data) = {
                    let state = shared.state.read();
                    let applied = shared.applied.lock().clone();
                    let data = encode_payload(&applied, &state)?;
                    (applied, data)
                };
                let last_index = applied.last_applied.map_or(0, |l| l.index);
                let meta = SnapshotMeta {
                    last_log_id: applied.last_applied,
                    last_membership: applied.membership,
                    snapshot_id: format!("{last_index}-{}", uuid::Uuid::new_v4().simple()),
                };
                shared.snapshots.save(&meta, &data)?;
                Ok((meta, data))
            },
            ErrorVerb::Write,
        )
        .await?;
        tracing::info!(snapshot = %meta, bytes = data.len(), "built controller snapshot");
        metrics::gauge!(CONTROLLER_SNAPSHOT_BYTES).set(data.len() as f64);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for ControllerStateMachine {
    type SnapshotBuilder = ControllerSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership), RaftStorageError> {
        let applied = self.shared.applied.lock().clone();
        Ok((applied.last_applied, applied.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResponse>, RaftStorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries = entries.into_iter();
        let mut responses = Vec::with_capacity(entries.size_hint().0);
        let last_index = {
            // One write lock per batch of entries: readers wait at most one batch.
            let mut state = self.shared.state.write();
            let mut applied = self.shared.applied.lock();
            for entry in entries {
                applied.last_applied = Some(entry.log_id);
                let index = entry.log_id.index;
                let response = match entry.payload {
                    EntryPayload::Blank => {
                        self.shared.recent.push(index, None);
                        CommandResponse::Done
                    }
                    EntryPayload::Normal(command) => {
                        let response = state.apply(&command);
                        // Moved, not cloned: watchers share the entry.
                        self.shared.recent.push(index, Some(Arc::new(command)));
                        response
                    }
                    EntryPayload::Membership(membership) => {
                        applied.membership = StoredMembership::new(Some(entry.log_id), membership);
                        self.shared.recent.push(index, None);
                        CommandResponse::Done
                    }
                };
                responses.push(response);
            }
            applied.last_applied.map(|l| l.index)
        };
        if let Some(index) = last_index {
            self.shared.applied_tx.send_replace(index);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        ControllerSnapshotBuilder {
            shared: Arc::clone(&self.shared),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, RaftStorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), RaftStorageError> {
        let data = snapshot.into_inner();
        let (_, state) =
            decode_payload(&data).map_err(|e| snapshot_failure(Some(meta), ErrorVerb::Read, &e))?;
        // The meta openraft hands over is authoritative for what the snapshot covers.
        let applied = AppliedMeta {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        let shared = Arc::clone(&self.shared);
        let file_meta = meta.clone();
        blocking(
            move || shared.snapshots.save(&file_meta, &data),
            ErrorVerb::Write,
        )
        .await?;
        self.shared.replace(applied, state);
        tracing::info!(snapshot = %meta, "installed controller snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, RaftStorageError> {
        let shared = Arc::clone(&self.shared);
        let loaded = blocking(move || shared.snapshots.load(), ErrorVerb::Read).await?;
        Ok(loaded.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_meta::{Command, NewTopic};

    fn state_with_a_topic() -> ControllerState {
        let mut state = ControllerState::default();
        state.apply(&Command::CreateTopics(skiff_meta::CreateTopics(vec![
            NewTopic {
                name: "t".into(),
                id: uuid::Uuid::from_u128(7),
                partitions: 2,
                configs: Default::default(),
                created_ms: 1,
            },
        ])));
        state
    }

    /// The encoded payload without the SCRAM users format 7 appended (none: one empty map,
    /// one byte).
    fn as_format_6(current: &[u8]) -> Vec<u8> {
        let current = &as_format_7(current);
        assert_eq!(current.last(), Some(&0), "no users");
        let mut v6 = current[..current.len() - 1].to_vec();
        v6[0] = 6;
        v6
    }

    /// The encoded payload without the transactions format 10 appended (none: five empty
    /// maps, one byte each).
    fn as_format_9(current: &[u8]) -> Vec<u8> {
        assert_eq!(&current[current.len() - 5..], &[0; 5], "no transactions");
        let mut v9 = current[..current.len() - 5].to_vec();
        v9[0] = 9;
        v9
    }

    /// The encoded payload without the ACLs format 9 appended (none: an empty set and
    /// revision 0, one byte each).
    fn as_format_8(current: &[u8]) -> Vec<u8> {
        let current = &as_format_9(current);
        assert_eq!(&current[current.len() - 2..], &[0, 0], "no ACLs");
        let mut v8 = current[..current.len() - 2].to_vec();
        v8[0] = 8;
        v8
    }

    /// The encoded payload without the dynamic broker configs format 8 appended (none: two
    /// empty maps, one byte each).
    fn as_format_7(current: &[u8]) -> Vec<u8> {
        let current = &as_format_8(current);
        assert_eq!(&current[current.len() - 2..], &[0, 0], "no broker configs");
        let mut v7 = current[..current.len() - 2].to_vec();
        v7[0] = 7;
        v7
    }

    /// The encoded payload without what format 6 appended: the collected orphans (the state
    /// must have condemned none) and the archive progress (none: one empty map, one byte).
    fn as_format_5(current: &[u8]) -> Vec<u8> {
        let current = &as_format_6(current);
        let condemned = postcard::to_allocvec(&skiff_meta::state::CondemnedObjects::default())
            .expect("encodes");
        assert_eq!(current.last(), Some(&0), "no archives");
        let mut v5 = current[..current.len() - condemned.len() - 1].to_vec();
        v5[0] = 5;
        v5
    }

    /// The encoded payload without the lifecycle state format 5 appended (the state must
    /// have no objects, so its lifecycle is the default one).
    fn as_format_4(current: &[u8]) -> Vec<u8> {
        let v5 = as_format_5(current);
        let lifecycle =
            postcard::to_allocvec(&skiff_meta::state::Lifecycle::default()).expect("encodes");
        let mut v4 = v5[..v5.len() - lifecycle.len()].to_vec();
        v4[0] = 4;
        v4
    }

    #[test]
    fn format_1_to_9_snapshots_still_load() {
        let state = state_with_a_topic();
        let meta = AppliedMeta::default();
        let current_6 = encode_payload(&meta, &state).expect("encodes");
        let (_, loaded) = decode_payload(&as_format_9(&current_6)).expect("format 9 decodes");
        assert_eq!(loaded, state);
        let (_, loaded) = decode_payload(&as_format_8(&current_6)).expect("format 8 decodes");
        assert_eq!(loaded, state);
        let (_, loaded) = decode_payload(&as_format_7(&current_6)).expect("format 7 decodes");
        assert_eq!(loaded, state);
        let (_, loaded) = decode_payload(&as_format_6(&current_6)).expect("format 6 decodes");
        assert_eq!(loaded, state);
        let (_, loaded) = decode_payload(&as_format_5(&current_6)).expect("format 5 decodes");
        assert_eq!(loaded, state);
        let current = as_format_4(&current_6);
        let (_, loaded) = decode_payload(&current).expect("format 4 decodes");
        assert_eq!(loaded, state);
        // Format 3 is format 4 without the trailing live broker history (epoch 0 and no sets:
        // two bytes), format 2 is format 3 without the broker leases, and format 1 is format 2
        // without the group registry; for no brokers and no groups each of those is one empty
        // map (one length byte).
        assert_eq!(&current[current.len() - 5..], &[0, 0, 0, 0, 0]);
        let mut v3 = current[..current.len() - 2].to_vec();
        v3[0] = 3;
        let (_, loaded) = decode_payload(&v3).expect("format 3 decodes");
        assert_eq!(loaded, state);
        let mut v2 = current[..current.len() - 3].to_vec();
        v2[0] = 2;
        let (_, loaded) = decode_payload(&v2).expect("format 2 decodes");
        assert_eq!(loaded, state);
        let mut v1 = current[..current.len() - 5].to_vec();
        v1[0] = 1;
        let (_, loaded) = decode_payload(&v1).expect("format 1 decodes");
        assert_eq!(loaded, state);
        let (_, again) = decode_payload(&current_6).expect("format 10 decodes");
        assert_eq!(again, state);
    }

    #[test]
    fn brokers_from_a_format_2_snapshot_are_live() {
        let mut state = state_with_a_topic();
        state.apply(&Command::RegisterBroker(skiff_meta::RegisterBroker(
            skiff_meta::BrokerInfo {
                id: 4,
                host: "h".into(),
                port: 9,
                rack: None,
            },
        )));
        let lease = *state.broker_lease(4).expect("registered");
        let leases = postcard::to_allocvec(&std::collections::BTreeMap::from([(4i32, lease)]))
            .expect("encodes");
        let history = postcard::to_allocvec(state.live_history()).expect("encodes");
        let current = encode_payload(&AppliedMeta::default(), &state).expect("encodes");
        let current = as_format_4(&current);
        let mut v2 = current[..current.len() - leases.len() - history.len()].to_vec();
        v2[0] = 2;
        let (_, loaded) = decode_payload(&v2).expect("format 2 decodes");
        assert_eq!(
            loaded.live_brokers().map(|b| b.id).collect::<Vec<_>>(),
            vec![4]
        );
    }

    #[test]
    fn unknown_snapshot_formats_are_refused() {
        let err = decode_payload(&[11, 0]).expect_err("unknown version");
        assert!(
            matches!(err, SnapshotError::UnsupportedVersion(11, 10)),
            "{err}"
        );
    }
}
