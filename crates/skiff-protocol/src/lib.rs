//! skiff-protocol
