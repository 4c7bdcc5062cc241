//! The `iceberg` crate's storage over Skiff's object store, so table files go through the same
//! `object_store` client, settings (endpoint, region, credentials, retries) and request
//! metrics as segments, and no second S3 client (opendal) enters the binary.
//!
//! Locations are absolute URLs under the store root ([`SegmentStore::root_url`]); a location
//! outside it is refused. Every write is create-only: data files and manifests have unique
//! names, and a metadata file must never replace one another writer made (the catalog picks
//! the next free version instead, see `catalog.rs`).

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;
use iceberg::io::{
    FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage, StorageConfig,
    StorageFactory,
};
use iceberg::{Error, ErrorKind};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use skiff_storage::{ObjectPath, SegmentStore, StorageError};

/// A [`Storage`] over one [`SegmentStore`].
#[derive(Debug, Clone)]
pub struct StoreStorage {
    store: SegmentStore,
}

impl StoreStorage {
    pub fn new(store: SegmentStore) -> Self {
        Self { store }
    }

    fn path(&self, location: &str) -> iceberg::Result<ObjectPath> {
        let root = self.store.root_url();
        let relative = location
            .strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::DataInvalid,
                    format!("{location} is outside the object store root {root}"),
                )
            })?;
        ObjectPath::parse(relative).map_err(|err| {
            Error::new(
                ErrorKind::DataInvalid,
                format!("{location} is not a valid object path: {err}"),
            )
        })
    }
}

pub(crate) fn store_error(err: StorageError) -> Error {
    let kind = match err {
        StorageError::NotFound { .. } | StorageError::AlreadyExists { .. } => {
            ErrorKind::DataInvalid
        }
        _ => ErrorKind::Unexpected,
    };
    let retryable = err.is_retriable();
    let error = Error::new(kind, err.to_string());
    if retryable {
        error.with_retryable(true)
    } else {
        error
    }
}

// The trait is `typetag`-serialisable so storages can cross process boundaries; this one holds
// a live client, so it serialises as its root URL and is never rebuilt from that.
impl Serialize for StoreStorage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.store.root_url())
    }
}

impl<'de> Deserialize<'de> for StoreStorage {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "a Skiff object store cannot be rebuilt from its serialised form",
        ))
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for StoreStorage {
    async fn exists(&self, path: &str) -> iceberg::Result<bool> {
        let path = self.path(path)?;
        Ok(self
            .store
            .object_size(&path)
            .await
            .map_err(store_error)?
            .is_some())
    }

    async fn metadata(&self, path: &str) -> iceberg::Result<FileMetadata> {
        let relative = self.path(path)?;
        match self
            .store
            .object_size(&relative)
            .await
            .map_err(store_error)?
        {
            Some(size) => Ok(FileMetadata { size }),
            None => Err(Error::new(
                ErrorKind::DataInvalid,
                format!("{path} does not exist"),
            )),
        }
    }

    async fn read(&self, path: &str) -> iceberg::Result<Bytes> {
        let path = self.path(path)?;
        self.store.get_object(&path).await.map_err(store_error)
    }

    async fn reader(&self, path: &str) -> iceberg::Result<Box<dyn FileRead>> {
        Ok(Box::new(StoreReader {
            store: self.store.clone(),
            path: self.path(path)?,
        }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> iceberg::Result<()> {
        let path = self.path(path)?;
        self.store
            .put_object(&path, bs, false)
            .await
            .map_err(store_error)
    }

    async fn writer(&self, path: &str) -> iceberg::Result<Box<dyn FileWrite>> {
        Ok(Box::new(StoreWriter {
            store: self.store.clone(),
            path: self.path(path)?,
            buffer: BytesMut::new(),
            closed: false,
        }))
    }

    async fn delete(&self, path: &str) -> iceberg::Result<()> {
        let path = self.path(path)?;
        self.store.delete(&path).await.map_err(store_error)
    }

    async fn delete_prefix(&self, path: &str) -> iceberg::Result<()> {
        let prefix = self.path(path.trim_end_matches('/'))?;
        for object in self.store.list(&prefix).await.map_err(store_error)? {
            self.store.delete(&object.path).await.map_err(store_error)?;
        }
        Ok(())
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> iceberg::Result<()> {
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> iceberg::Result<InputFile> {
        self.path(path)?;
        Ok(InputFile::new(Arc::new(self.clone()), path.to_string()))
    }

    fn new_output(&self, path: &str) -> iceberg::Result<OutputFile> {
        self.path(path)?;
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_string()))
    }
}

/// Hands out the one [`StoreStorage`] it was made with, whatever the configuration: the
/// store's settings come from Skiff's, not from table properties.
#[derive(Debug, Clone)]
pub struct StoreStorageFactory {
    storage: StoreStorage,
}

impl StoreStorageFactory {
    pub fn new(store: SegmentStore) -> Self {
        Self {
            storage: StoreStorage::new(store),
        }
    }
}

impl Serialize for StoreStorageFactory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.storage.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoreStorageFactory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StoreStorage::deserialize(deserializer).map(|storage| Self { storage })
    }
}

#[typetag::serde]
impl StorageFactory for StoreStorageFactory {
    fn build(&self, _config: &StorageConfig) -> iceberg::Result<Arc<dyn Storage>> {
        Ok(Arc::new(self.storage.clone()))
    }
}

struct StoreReader {
    store: SegmentStore,
    path: ObjectPath,
}

#[async_trait]
impl FileRead for StoreReader {
    async fn read(&self, range: Range<u64>) -> iceberg::Result<Bytes> {
        self.store
            .get_range(&self.path, range)
            .await
            .map_err(store_error)
    }
}

/// Collects a file and uploads it in one create-only PUT at close. A file is at most the
/// rolling writer's target size, which bounds the buffer.
struct StoreWriter {
    store: SegmentStore,
    path: ObjectPath,
    buffer: BytesMut,
    closed: bool,
}

#[async_trait]
impl FileWrite for StoreWriter {
    async fn write(&mut self, bs: Bytes) -> iceberg::Result<()> {
        if self.closed {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!("write to {} after close", self.path),
            ));
        }
        self.buffer.extend_from_slice(&bs);
        Ok(())
    }

    async fn close(&mut self) -> iceberg::Result<()> {
        if self.closed {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!("{} closed twice", self.path),
            ));
        }
        self.closed = true;
        let bytes = std::mem::take(&mut self.buffer).freeze();
        self.store
            .put_object(&self.path, bytes, false)
            .await
            .map_err(store_error)
    }
}
