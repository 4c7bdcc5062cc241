//! Every integration test of this crate, in one binary: one link and one compile of the
//! shared helpers instead of one per file (nextest still runs each test in its own process).

mod support;

mod archive;
mod compact;
mod merge;
