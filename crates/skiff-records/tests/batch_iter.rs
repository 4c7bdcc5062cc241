//! Walking concatenated batches, including a fetch response's trailing partial batch.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use skiff_records::{BatchView, LOG_OVERHEAD, RecordsError, batches};
use support::*;

fn three_batches() -> (Vec<u8>, [usize; 3]) {
    let specs = sample_specs();
    let a = encode_batch(&specs[..1], NO_PRODUCER, Codec::None);
    let b = encode_batch(&specs, NO_PRODUCER, Codec::Lz4);
    let c = encode_batch(&specs[..2], NO_PRODUCER, Codec::Gzip);
    let lens = [a.len(), b.len(), c.len()];
    ([a, b, c].concat(), lens)
}

#[test]
fn yields_each_batch_with_its_bytes() {
    let (set, lens) = three_batches();
    let views: Vec<BatchView<'_>> = batches(&set).collect::<Result<_, _>>().unwrap();
    assert_eq!(views.len(), 3);
    assert_eq!(views.iter().map(BatchView::len).collect::<Vec<_>>(), lens);
    assert_eq!(views[1].bytes(), &set[lens[0]..lens[0] + lens[1]]);
    assert_eq!(
        views.iter().map(|v| v.offset_count()).collect::<Vec<_>>(),
        vec![1, 5, 2]
    );
    assert!(batches(&[]).next().is_none());
}

#[test]
fn a_trailing_partial_batch_is_reported_as_such_and_ends_iteration() {
    let (set, lens) = three_batches();
    let third_start = lens[0] + lens[1];
    for cut in [
        third_start + 1,
        third_start + LOG_OVERHEAD,
        third_start + 20,
        set.len() - 1,
    ] {
        let fetched = &set[..cut];
        let mut iter = batches(fetched);
        assert!(iter.next().unwrap().is_ok());
        assert!(iter.next().unwrap().is_ok());
        let error = iter.next().unwrap().unwrap_err();
        assert!(error.is_partial_batch(), "cut {cut}: {error}");
        assert_eq!(iter.position(), third_start);
        assert_eq!(iter.remaining(), &set[third_start..cut]);
        assert!(iter.next().is_none(), "fused after the error");
    }
}

#[test]
fn a_partial_batch_reports_how_much_it_needs() {
    let (set, lens) = three_batches();
    let error = batches(&set[..lens[0] - 10]).next().unwrap().unwrap_err();
    assert_eq!(
        error,
        RecordsError::PartialBatch {
            needed: lens[0] as u64,
            available: lens[0] - 10
        }
    );
    let error = batches(&set[..5]).next().unwrap().unwrap_err();
    assert_eq!(
        error,
        RecordsError::PartialBatch {
            needed: 12,
            available: 5
        }
    );
}

#[test]
fn malformed_batch_mid_stream_stops_iteration_with_that_error() {
    let (mut set, lens) = three_batches();
    set[lens[0] + 16] = 1; // magic of the second batch
    let results: Vec<_> = batches(&set).collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().unwrap_err(),
        &RecordsError::UnsupportedMagic { magic: 1 }
    );
}

#[test]
fn batch_view_new_requires_exactly_one_batch() {
    let (set, lens) = three_batches();
    assert!(matches!(
        BatchView::new(&set),
        Err(RecordsError::LengthMismatch { .. })
    ));
    assert!(BatchView::new(&set[..lens[0]]).is_ok());
    assert_eq!(
        BatchView::new(&set[..60]).unwrap_err(),
        RecordsError::PartialBatch {
            needed: lens[0] as u64,
            available: 60
        }
    );
    assert_eq!(
        BatchView::new(&set[..lens[0] + 5]).unwrap_err(),
        RecordsError::LengthMismatch {
            declared: lens[0] as u64,
            actual: lens[0] + 5
        }
    );
    assert_eq!(
        BatchView::new(&set[..4]).unwrap_err(),
        RecordsError::PartialBatch {
            needed: 61,
            available: 4
        }
    );
}

#[test]
fn debug_output_shows_header_fields_not_raw_bytes() {
    let (set, lens) = three_batches();
    let view = BatchView::new(&set[..lens[0]]).unwrap();
    let debug = format!("{view:?}");
    assert!(debug.contains("record_count: 1"), "{debug}");
    assert!(!debug.contains("bytes:"), "{debug}");
}
