//! skiff-storage
