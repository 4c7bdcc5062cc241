//! openraft's storage conformance suite against the redb log store and the controller state
//! machine, each built fresh in its own temp directory.

use openraft::testing::{StoreBuilder, Suite};
use openraft::{AnyError, ErrorSubject, ErrorVerb, StorageError, StorageIOError};
use skiff_controller::raft::{ControllerStateMachine, RedbLogStore, TypeConfig};
use tempfile::TempDir;

struct TempDirStores;

fn setup_error(e: &(dyn std::error::Error + 'static)) -> StorageError<u64> {
    StorageIOError::new(
        ErrorSubject::Store,
        ErrorVerb::Write,
        AnyError::from_dyn(e, None),
    )
    .into()
}

impl StoreBuilder<TypeConfig, RedbLogStore, ControllerStateMachine, TempDir> for TempDirStores {
    async fn build(
        &self,
    ) -> Result<(TempDir, RedbLogStore, ControllerStateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().map_err(|e| setup_error(&e))?;
        let log =
            RedbLogStore::open(&dir.path().join("raft-log.redb")).map_err(|e| setup_error(&e))?;
        let sm = ControllerStateMachine::open(&dir.path().join("snapshots"), 100)
            .map_err(|e| setup_error(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite_passes() {
    if let Err(e) = Suite::test_all(TempDirStores) {
        panic!("openraft storage suite failed: {e}");
    }
}
