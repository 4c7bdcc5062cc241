//! Which partition a record goes to, chosen the way the Java client chooses it.

use std::collections::HashMap;

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), seed 0x9747b28c.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    // Java hashes the length as an int; keys never approach 2^31 bytes.
    let mut h = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's partition for a keyed record: `toPositive(murmur2(key)) % partitions`.
pub fn partition_for_key(key: &[u8], partitions: u32) -> i32 {
    let positive = (murmur2(key) & 0x7fff_ffff) as u32;
    (positive % partitions.max(1)) as i32
}

/// Round-robin over partitions for records without a key, one counter per topic.
#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    next: HashMap<String, u32>,
}

impl RoundRobin {
    pub(crate) fn next(&mut self, topic: &str, partitions: u32) -> i32 {
        let counter = match self.next.get_mut(topic) {
            Some(counter) => counter,
            None => self.next.entry(topic.to_owned()).or_insert(0),
        };
        let partition = *counter % partitions.max(1);
        *counter = counter.wrapping_add(1);
        partition as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Kafka's `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_the_java_client() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (key, hash) in cases {
            assert_eq!(murmur2(key), hash, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn keyed_partitions_use_the_positive_hash() {
        // toPositive(-790332482) = 1357151166; 1357151166 % 50 = 16.
        assert_eq!(partition_for_key(b"foobar", 50), 16);
    }

    #[test]
    fn round_robin_cycles_per_topic() {
        let mut rr = RoundRobin::default();
        let a: Vec<i32> = (0..4).map(|_| rr.next("a", 3)).collect();
        assert_eq!(a, [0, 1, 2, 0]);
        assert_eq!(rr.next("b", 3), 0, "topics count separately");
    }

    proptest! {
        #[test]
        fn keyed_partitions_are_in_range(key in prop::collection::vec(any::<u8>(), 0..64), n in 1u32..1000) {
            let p = partition_for_key(&key, n);
            prop_assert!(p >= 0 && (p as u32) < n);
        }
    }
}
