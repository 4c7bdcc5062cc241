//! A fuzz harness over produce validation that runs on stable Rust: well-formed batches of every
//! codec, mutated in their bytes and in their (decompressed) records, then given a correct
//! length and CRC so the mutations reach the record walk. `validate_record_set` must never
//! panic, and whatever it accepts, kafka-protocol's independent decoder must read too, with
//! the same record count: a stored batch must never surprise a consumer.
//!
//! CI runs a fixed budget from a fixed seed. By hand, for an hour:
//!
//! ```sh
//! SKIFF_FUZZ_SECONDS=3600 SKIFF_FUZZ_SEED=$RANDOM cargo test --release -p skiff-records --test fuzz_validator
//! ```
//!
//! A failure prints the seed and iteration and saves the input under the system temp dir; copy
//! it into `tests/fuzz_regressions/` to replay it in every run.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use skiff_records::{BatchView, ProduceRules, validate_record_set};
use support::*;

const DEFAULT_ITERATIONS: u64 = 20_000;
const DEFAULT_SEED: u64 = 0x5EED_0023;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const EXTREMES: [i32; 9] = [0, -1, -2, 1, 63, 64, 0x7fff, i32::MAX, i32::MIN];

fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..=rng.below(3) {
        let len = data.len();
        match rng.below(6) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x03][rng.below(6)];
            }
            2 if len >= 4 => {
                let at = rng.below(len - 3);
                data[at..at + 4]
                    .copy_from_slice(&EXTREMES[rng.below(EXTREMES.len())].to_be_bytes());
            }
            3 => data.truncate(rng.below(len + 1)),
            4 if len > 0 => {
                let from = rng.below(len);
                let to = from + rng.below(len - from + 1);
                let copy = data[from..to].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, copy);
            }
            _ => {
                let at = rng.below(len + 1);
                let noise: Vec<u8> = (0..rng.below(8)).map(|_| rng.next() as u8).collect();
                data.splice(at..at, noise);
            }
        }
    }
}

/// A mutated batch: either raw byte damage (then length and CRC fixed), or damage to the
/// decompressed records (then recompressed), with the header's count sometimes changed.
fn mutate(rng: &mut Rng, batch: &[u8], codec: Codec) -> Vec<u8> {
    let mut out;
    if rng.below(2) == 0 {
        out = batch.to_vec();
        mutate_bytes(rng, &mut out);
    } else {
        let view = BatchView::new(batch).unwrap();
        let mut records = view.records().unwrap().data().to_vec();
        mutate_bytes(rng, &mut records);
        out = batch[..61].to_vec();
        out.extend_from_slice(&compress(codec, &records));
    }
    if out.len() >= 61 {
        if rng.below(4) == 0 {
            let count = EXTREMES[rng.below(EXTREMES.len())];
            out[57..61].copy_from_slice(&count.to_be_bytes());
            out[23..27].copy_from_slice(&count.wrapping_sub(1).to_be_bytes());
        }
        let length = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&length.to_be_bytes());
        fix_crc(&mut out);
    }
    out
}

fn corpus() -> Vec<(Codec, Vec<u8>)> {
    let mut corpus = Vec::new();
    for codec in ALL_CODECS {
        corpus.push((
            codec,
            encode_batch(&sample_specs(), idempotent_producer(), codec),
        ));
        corpus.push((
            codec,
            encode_batch(&sample_specs()[..1], NO_PRODUCER, codec),
        ));
    }
    corpus
}

fn check(input: &[u8]) {
    let mut out = Vec::new();
    let rules = ProduceRules {
        max_decompressed_bytes: 1 << 20,
        ..ProduceRules::with_max_batch_bytes(1 << 20)
    };
    if validate_record_set(input, &rules, &mut out).is_ok() {
        let sets = kafka_decode_all(input)
            .unwrap_or_else(|e| panic!("accepted, but kafka-protocol cannot read it: {e:#}"));
        let counts: Vec<usize> = sets.iter().map(|set| set.records.len()).collect();
        let ours: Vec<usize> = out.iter().map(|b| b.record_count as usize).collect();
        assert_eq!(
            counts, ours,
            "accepted record counts differ from kafka-protocol's"
        );
    }
}

fn regressions() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .filter_map(|p| std::fs::read(&p).ok().map(|bytes| (p, bytes)))
        .collect()
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn the_validator_survives_mutated_batches_and_accepts_only_what_kafka_reads() {
    for (path, input) in regressions() {
        if catch_unwind(|| check(&input)).is_err() {
            panic!("regression input {} fails again", path.display());
        }
    }
    let corpus = corpus();
    for (_, batch) in &corpus {
        check(batch);
    }
    let seed = env_number("SKIFF_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let until = env_number("SKIFF_FUZZ_SECONDS").map(|s| Instant::now() + Duration::from_secs(s));
    let iterations = env_number("SKIFF_FUZZ_ITERATIONS").unwrap_or(DEFAULT_ITERATIONS);
    let mut rng = Rng(seed | 1);
    let (mut done, mut accepted) = (0u64, 0u64);
    while until.map_or(done < iterations, |until| Instant::now() < until) {
        let (codec, batch) = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, batch, *codec);
        let result = catch_unwind(AssertUnwindSafe(|| check(&input)));
        if result.is_err() {
            let path = std::env::temp_dir().join(format!("skiff-fuzz-validator-{seed}-{done}.bin"));
            let _ = std::fs::write(&path, &input);
            panic!(
                "seed {seed}, iteration {done}: see the message above; input saved to {}",
                path.display()
            );
        }
        let mut out = Vec::new();
        if validate_record_set(
            &input,
            &ProduceRules::with_max_batch_bytes(1 << 20),
            &mut out,
        )
        .is_ok()
        {
            accepted += 1;
        }
        done += 1;
    }
    eprintln!("fuzzed the validator with {done} batches from seed {seed}; {accepted} accepted");
}
