//! Segment writer and footer reader: round trips, damage, and the footer-size boundary.

use bytes::Bytes;
use proptest::prelude::*;
use skiff_storage::segment::{
    CHUNK_ENTRY_LEN, FOOTER_FIXED_LEN, FOOTER_READ_GUESS, HEADER_LEN, MAGIC, TRAILER_LEN,
};
use skiff_storage::{ChunkMeta, SegmentBuilder, SegmentError, decode_footer, segment_path};
use uuid::Uuid;

fn meta(seed: u32) -> ChunkMeta {
    ChunkMeta {
        topic_id: Uuid::from_u128(0xA11CE_u128 << 64 | u128::from(seed)),
        partition: seed % 7,
        batch_count: seed + 1,
        record_count: seed * 10 + 3,
        min_timestamp: 1_700_000_000_000 + i64::from(seed),
        max_timestamp: 1_700_000_000_500 + i64::from(seed),
    }
}

/// Chunk payloads made of lowercase letters, so no prefix of an object can end in the magic.
fn piece(seed: u8, len: usize) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| b'a' + ((i + usize::from(seed)) % 26) as u8)
            .collect::<Vec<_>>(),
    )
}

fn concat(pieces: &[Bytes]) -> Vec<u8> {
    pieces.iter().flat_map(|p| p.iter().copied()).collect()
}

/// Three chunks: multi-piece, single-piece, and one with an empty piece in the middle.
fn sample_segment() -> (skiff_storage::EncodedSegment, Vec<Vec<Bytes>>) {
    let chunk_pieces = vec![
        vec![piece(1, 61), piece(2, 200), piece(3, 7)],
        vec![piece(4, 1000)],
        vec![piece(5, 13), Bytes::new(), piece(6, 29)],
    ];
    let mut builder = SegmentBuilder::new(42, 1_717_171_717_171);
    for (i, pieces) in chunk_pieces.iter().enumerate() {
        builder.push_chunk(meta(i as u32), pieces.clone());
    }
    (builder.finish(), chunk_pieces)
}

#[test]
fn round_trip_returns_every_chunk_as_given() {
    let (segment, chunk_pieces) = sample_segment();
    let object = segment.to_contiguous();
    assert_eq!(object.len() as u64, segment.len);
    assert_eq!(&object[..8], &MAGIC);
    assert_eq!(&object[object.len() - 8..], &MAGIC);

    let footer = decode_footer(&object, segment.len).expect("footer decodes");
    assert_eq!(footer.broker_id, 42);
    assert_eq!(footer.created_ms, 1_717_171_717_171);
    assert_eq!(footer.chunks, segment.chunks);
    assert_eq!(footer.chunks.len(), chunk_pieces.len());
    for (i, (chunk, pieces)) in footer.chunks.iter().zip(&chunk_pieces).enumerate() {
        assert_eq!(chunk.meta, meta(i as u32));
        let range = chunk.position as usize..(chunk.position + chunk.len) as usize;
        assert_eq!(&object[range], concat(pieces).as_slice(), "chunk {i}");
    }
    assert_eq!(footer.chunks[0].position, HEADER_LEN);
}

#[test]
fn parts_share_the_given_pieces_without_copying() {
    let data = piece(9, 4096);
    let mut builder = SegmentBuilder::new(1, 2);
    builder.push_chunk(meta(0), vec![data.clone()]);
    let segment = builder.finish();
    assert_eq!(segment.parts.len(), 3, "header, the piece, footer+trailer");
    assert_eq!(segment.parts[1].as_ptr(), data.as_ptr());
    assert_eq!(
        segment.parts.iter().map(|p| p.len() as u64).sum::<u64>(),
        segment.len
    );
}

#[test]
fn a_segment_without_chunks_is_valid() {
    let segment = SegmentBuilder::new(3, 4).finish();
    assert_eq!(segment.len, HEADER_LEN + FOOTER_FIXED_LEN + TRAILER_LEN);
    let footer = decode_footer(&segment.to_contiguous(), segment.len).expect("empty footer");
    assert!(footer.chunks.is_empty());
    assert_eq!((footer.broker_id, footer.created_ms), (3, 4));
}

#[test]
fn only_the_tail_is_needed_and_a_short_tail_asks_for_more() {
    let (segment, _) = sample_segment();
    let object = segment.to_contiguous();
    let needed = FOOTER_FIXED_LEN + 3 * CHUNK_ENTRY_LEN + TRAILER_LEN;
    let tail = &object[object.len() - needed as usize..];
    assert_eq!(
        decode_footer(tail, segment.len).expect("exact tail").chunks,
        segment.chunks
    );

    let short = &tail[1..];
    match decode_footer(short, segment.len) {
        Err(SegmentError::NeedMoreTail { needed: n, have }) => {
            assert_eq!(n, needed);
            assert_eq!(have, needed - 1);
        }
        other => panic!("expected NeedMoreTail, got {other:?}"),
    }
}

#[test]
fn every_truncated_prefix_is_an_error() {
    let (segment, _) = sample_segment();
    let object = segment.to_contiguous();
    for len in 0..object.len() {
        let prefix = &object[..len];
        assert!(
            decode_footer(prefix, len as u64).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
}

#[test]
fn every_single_byte_corruption_of_footer_or_trailer_is_an_error() {
    let (segment, _) = sample_segment();
    let object = segment.to_contiguous().to_vec();
    let footer_start =
        object.len() - (FOOTER_FIXED_LEN + 3 * CHUNK_ENTRY_LEN + TRAILER_LEN) as usize;
    for at in footer_start..object.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut damaged = object.clone();
            damaged[at] ^= flip;
            assert!(
                decode_footer(&damaged, damaged.len() as u64).is_err(),
                "flipping {flip:#04x} at byte {at} went unnoticed"
            );
        }
    }
}

/// Rewrites a footer field and fixes up the CRC, as a buggy writer would produce.
fn with_patched_footer(object: &[u8], footer_offset: usize, new_bytes: &[u8]) -> Vec<u8> {
    let mut patched = object.to_vec();
    let trailer_start = patched.len() - TRAILER_LEN as usize;
    let footer_len = u32::from_be_bytes(
        patched[trailer_start..trailer_start + 4]
            .try_into()
            .expect("four length bytes"),
    );
    let footer_start = trailer_start - footer_len as usize;
    let at = footer_start + footer_offset;
    patched[at..at + new_bytes.len()].copy_from_slice(new_bytes);
    let crc = crc32c::crc32c(&patched[footer_start..trailer_start]);
    patched[trailer_start + 4..trailer_start + 8].copy_from_slice(&crc.to_be_bytes());
    patched
}

#[test]
fn checksummed_but_inconsistent_footers_are_rejected() {
    let (segment, _) = sample_segment();
    let object = segment.to_contiguous();
    let entry =
        |i: usize, field: usize| FOOTER_FIXED_LEN as usize + i * CHUNK_ENTRY_LEN as usize + field;

    let bad_version = with_patched_footer(&object, 0, &7u16.to_be_bytes());
    assert!(matches!(
        decode_footer(&bad_version, bad_version.len() as u64),
        Err(SegmentError::UnsupportedVersion(7))
    ));

    let bad_flags = with_patched_footer(&object, 2, &1u16.to_be_bytes());
    assert!(matches!(
        decode_footer(&bad_flags, bad_flags.len() as u64),
        Err(SegmentError::UnsupportedFlags(1))
    ));

    let bad_count = with_patched_footer(&object, 16, &9u32.to_be_bytes());
    assert!(matches!(
        decode_footer(&bad_count, bad_count.len() as u64),
        Err(SegmentError::ChunkCountMismatch {
            stated: 9,
            actual: 3
        })
    ));

    // Position field of chunk 2 pointing into the footer.
    let past_end = with_patched_footer(
        &object,
        entry(2, 20),
        &(object.len() as u64 - 20).to_be_bytes(),
    );
    assert!(matches!(
        decode_footer(&past_end, past_end.len() as u64),
        Err(SegmentError::ChunkOutOfBounds { index: 2, .. })
    ));

    // Length field of chunk 1 so large that position + len overflows.
    let overflow = with_patched_footer(&object, entry(1, 28), &u64::MAX.to_be_bytes());
    assert!(matches!(
        decode_footer(&overflow, overflow.len() as u64),
        Err(SegmentError::ChunkOutOfBounds { index: 1, .. })
    ));

    // Chunk 1 starting inside chunk 0.
    let overlap = with_patched_footer(&object, entry(1, 20), &(HEADER_LEN + 1).to_be_bytes());
    assert!(matches!(
        decode_footer(&overlap, overlap.len() as u64),
        Err(SegmentError::ChunkOutOfBounds { index: 1, .. })
    ));
}

#[test]
fn wrong_object_lengths_are_errors() {
    let (segment, _) = sample_segment();
    let object = segment.to_contiguous();
    assert!(matches!(
        decode_footer(&object, segment.len - 1),
        Err(SegmentError::TailLongerThanObject { .. })
    ));
    assert!(matches!(
        decode_footer(&object[..10], 10),
        Err(SegmentError::ObjectTooShort { .. })
    ));
}

#[test]
fn a_footer_larger_than_the_first_read_asks_for_exactly_its_size() {
    let chunks = 2_000u32;
    let mut builder = SegmentBuilder::new(5, 6);
    for i in 0..chunks {
        builder.push_chunk(meta(i), vec![piece(i as u8, 3)]);
    }
    let segment = builder.finish();
    let object = segment.to_contiguous();
    let footer_and_trailer = FOOTER_FIXED_LEN + u64::from(chunks) * CHUNK_ENTRY_LEN + TRAILER_LEN;
    assert!(
        footer_and_trailer > FOOTER_READ_GUESS,
        "test needs a footer over the guess"
    );

    let guess = &object[object.len() - FOOTER_READ_GUESS as usize..];
    match decode_footer(guess, segment.len) {
        Err(SegmentError::NeedMoreTail { needed, .. }) => assert_eq!(needed, footer_and_trailer),
        other => panic!("expected NeedMoreTail, got {other:?}"),
    }
    let tail = &object[object.len() - footer_and_trailer as usize..];
    assert_eq!(
        decode_footer(tail, segment.len)
            .expect("second read")
            .chunks
            .len(),
        2_000
    );
}

#[test]
fn segment_paths_are_dated_unique_and_time_ordered() {
    // 2024-03-01T12:00:00Z
    let now_ms = 1_709_294_400_000;
    let first = segment_path(7, now_ms).to_string();
    let second = segment_path(7, now_ms).to_string();
    assert_ne!(first, second);
    for path in [&first, &second] {
        let name = path
            .strip_prefix("segments/2024-03-01/7-")
            .unwrap_or_else(|| panic!("unexpected path {path}"));
        let ulid = name.strip_suffix(".seg").expect(".seg suffix");
        let ulid: ulid::Ulid = ulid.parse().expect("a ULID");
        assert_eq!(ulid.timestamp_ms(), now_ms as u64);
    }
    let later = segment_path(7, now_ms + 1).to_string();
    assert!(
        later > first && later > second,
        "ULIDs sort by creation time"
    );
    // A clock before the epoch still yields a well-formed path.
    assert!(
        segment_path(1, -5)
            .to_string()
            .starts_with("segments/1970-01-01/1-")
    );
}

prop_compose! {
    fn arb_chunk()(
        topic in any::<u128>(),
        partition in any::<u32>(),
        batch_count in any::<u32>(),
        record_count in any::<u32>(),
        min_timestamp in any::<i64>(),
        max_timestamp in any::<i64>(),
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..5),
    ) -> (ChunkMeta, Vec<Bytes>) {
        let meta = ChunkMeta {
            topic_id: Uuid::from_u128(topic),
            partition,
            batch_count,
            record_count,
            min_timestamp,
            max_timestamp,
        };
        (meta, pieces.into_iter().map(Bytes::from).collect())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_segments_round_trip(
        broker_id in any::<i32>(),
        created_ms in any::<i64>(),
        chunks in prop::collection::vec(arb_chunk(), 0..40),
        extra_tail in any::<prop::sample::Index>(),
    ) {
        let mut builder = SegmentBuilder::new(broker_id, created_ms);
        for (meta, pieces) in &chunks {
            builder.push_chunk(*meta, pieces.clone());
        }
        let segment = builder.finish();
        let object = segment.to_contiguous();
        prop_assert_eq!(object.len() as u64, segment.len);

        // Any tail at least as long as footer + trailer decodes to the same footer.
        let needed = (FOOTER_FIXED_LEN + chunks.len() as u64 * CHUNK_ENTRY_LEN + TRAILER_LEN) as usize;
        let tail_len = needed + extra_tail.index(object.len() - needed + 1);
        let footer = decode_footer(&object[object.len() - tail_len..], segment.len)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(footer.broker_id, broker_id);
        prop_assert_eq!(footer.created_ms, created_ms);
        prop_assert_eq!(&footer.chunks, &segment.chunks);
        for (chunk, (meta, pieces)) in footer.chunks.iter().zip(&chunks) {
            prop_assert_eq!(&chunk.meta, meta);
            let range = chunk.position as usize..(chunk.position + chunk.len) as usize;
            let expected = concat(pieces);
            prop_assert_eq!(&object[range], expected.as_slice());
        }
    }

    #[test]
    fn arbitrary_tails_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..600),
        object_extra in 0u64..1_000,
        footer_len in any::<prop::sample::Index>(),
        plausible_trailer in any::<bool>(),
        any_object_len in any::<u64>(),
        use_any_object_len in any::<bool>(),
    ) {
        let mut tail = tail;
        let n = tail.len();
        // Half the cases get a real magic and a footer length that fits the tail, so decoding
        // reaches the CRC and the field parsing instead of stopping at the first check.
        if plausible_trailer && n >= 16 {
            let len = footer_len.index(n - 16 + 1) as u32;
            tail[n - 16..n - 12].copy_from_slice(&len.to_be_bytes());
            let crc = crc32c::crc32c(&tail[n - 16 - len as usize..n - 16]);
            tail[n - 12..n - 8].copy_from_slice(&crc.to_be_bytes());
            tail[n - 8..].copy_from_slice(&MAGIC);
        }
        let object_len = if use_any_object_len { any_object_len } else { n as u64 + object_extra };
        // Only the absence of a panic is being tested; any verdict is acceptable.
        let _ = decode_footer(&tail, object_len);
    }
}
