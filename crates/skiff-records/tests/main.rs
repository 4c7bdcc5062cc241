//! Every integration test of this crate, in one binary: one link and one compile of the
//! shared helpers instead of one per file (nextest still runs each test in its own process).

mod support;

mod batch_iter;
mod compress_roundtrip;
mod control;
mod fuzz_validator;
mod patch;
mod properties;
mod recompress;
mod record_walk;
mod records_decoding;
mod retain;
mod roundtrip;
mod validate_rules;
