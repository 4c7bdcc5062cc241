//! skiff-records
