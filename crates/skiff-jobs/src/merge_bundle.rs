//! Merge jobs run together (a bundle): the planner leases a broker the merges of many
//! partitions at once, and this writes all of them into one object, a chunk per partition, with
//! one PUT and one proposal. Their source entries are mostly slices of the same multi-partition
//! flush segments, so each source object is read once, in a few large ranged GETs, rather than
//! once per entry. A merge whose entries changed, or whose bytes are bad, drops out of the
//! bundle without stopping the others.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use skiff_meta::state::Job;
use skiff_meta::{EntryRef, OutputEntry, StateHandle};
use skiff_storage::{ObjectPath, SegmentBuilder, segment_path};

use crate::context::JobContext;
use crate::error::JobFailure;
use crate::merge::{self, Source};

/// Source ranges of one object closer than this are read with one GET (the gap is read and
/// dropped): a GET costs about as much as this many bytes of transfer.
const MAX_READ_GAP: u64 = 256 * 1024;
/// Longest single GET a bundle makes, so one read never holds much more than it needs.
const MAX_READ_SPAN: u64 = 16 * 1024 * 1024;

/// What a bundle wrote: one object holding a chunk per merge that could run.
#[derive(Debug)]
pub struct Bundle {
    /// `None` when no merge could run (nothing was written).
    pub object: Option<BundleObject>,
    pub merges: Vec<BundledMerge>,
    /// Jobs that could not run, and why: to be given back.
    pub dropped: Vec<(u64, JobFailure)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleObject {
    pub key: String,
    pub size: u64,
}

/// One merge written into the bundle's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundledMerge {
    pub job_id: u64,
    pub replaced: Vec<EntryRef>,
    /// Positions in the bundle's object.
    pub entries: Vec<OutputEntry>,
    pub source_bytes: u64,
}

/// One GET: a range of an object covering some source entries.
struct Span {
    key: String,
    start: u64,
    end: u64,
    /// (merge, source) indexes of the entries inside, with their start in the span.
    members: Vec<(usize, usize, u64)>,
}

pub(crate) async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    jobs: &[Job],
    now_ms: i64,
) -> Result<Bundle, JobFailure> {
    let mut dropped: Vec<(u64, JobFailure)> = Vec::new();
    let mut planned: Vec<(Job, Vec<Source>)> = Vec::new();
    {
        let state = state.read();
        for job in jobs {
            match merge::sources(&state, &job.spec) {
                Ok(sources) => planned.push((*job, sources)),
                Err(e) => dropped.push((job.id, e)),
            }
        }
    }
    let spans = spans(&planned);
    // Each read owns what it needs, so the bundle's future is Send for any borrow of its inputs.
    let wanted: Vec<(ObjectPath, std::ops::Range<u64>)> = spans
        .iter()
        .map(|span| (ObjectPath::from(span.key.as_str()), span.start..span.end))
        .collect();
    let reads = wanted.into_iter().map(|(path, range)| {
        let store = ctx.store.clone();
        async move { store.get_range(&path, range).await }
    });
    let read: Vec<Bytes> = futures::stream::iter(reads)
        .buffered(ctx.read_concurrency.max(1))
        .try_collect()
        .await?;

    // Every source's bytes, cut from its span and given its real offsets.
    let mut runs: Vec<Vec<Option<Bytes>>> = planned
        .iter()
        .map(|(_, sources)| vec![None; sources.len()])
        .collect();
    let mut bad: Vec<Option<JobFailure>> = planned.iter().map(|_| None).collect();
    for ((_, sources), runs) in planned.iter().zip(&mut runs) {
        for (source, run) in sources.iter().zip(runs.iter_mut()) {
            if let Some(marker) = source.entry.as_marker() {
                *run = Some(merge::marker_batch(marker));
            }
        }
    }
    for (span, bytes) in spans.iter().zip(&read) {
        for &(m, s, at) in &span.members {
            if bad[m].is_some() {
                continue;
            }
            let source = &planned[m].1[s];
            let len = u64::from(source.entry.len);
            let Some(raw) = slice(bytes, at, len) else {
                bad[m] = Some(JobFailure::BadSource {
                    key: source.key.clone(),
                    reason: "the object is shorter than its index entry".into(),
                });
                continue;
            };
            match merge::with_real_offsets(source, raw) {
                Ok(run) => runs[m][s] = Some(run),
                Err(e) => bad[m] = Some(e),
            }
        }
    }

    let mut builder = SegmentBuilder::new(ctx.broker_id, now_ms);
    let mut merges: Vec<BundledMerge> = Vec::new();
    for (((job, sources), runs), bad) in planned.iter().zip(runs).zip(bad) {
        if let Some(e) = bad {
            dropped.push((job.id, e));
            continue;
        }
        let runs: Vec<Bytes> = runs.into_iter().flatten().collect();
        let (meta, entries) = match merge::layout(&job.spec, sources, &runs) {
            Ok(laid_out) => laid_out,
            Err(e) => {
                dropped.push((job.id, e));
                continue;
            }
        };
        let source_bytes = runs.iter().map(|r| r.len() as u64).sum();
        builder.push_chunk(meta, runs);
        merges.push(BundledMerge {
            job_id: job.id,
            replaced: sources.iter().map(|s| merge::entry_ref(&s.entry)).collect(),
            entries,
            source_bytes,
        });
    }
    if merges.is_empty() {
        return Ok(Bundle {
            object: None,
            merges,
            dropped,
        });
    }
    let encoded = builder.finish();
    for (merge, chunk) in merges.iter_mut().zip(&encoded.chunks) {
        for entry in &mut merge.entries {
            entry.position += chunk.position;
        }
    }
    let size = encoded.len;
    let path = segment_path(ctx.broker_id, now_ms);
    ctx.store.put_segment(&path, encoded).await?;
    Ok(Bundle {
        object: Some(BundleObject {
            key: path.to_string(),
            size,
        }),
        merges,
        dropped,
    })
}

/// The GETs that read every source entry: per object, entries in position order, joined while
/// the gap between them and the span's length stay small.
fn spans(planned: &[(Job, Vec<Source>)]) -> Vec<Span> {
    let mut by_object: BTreeMap<&str, Vec<(u64, u64, usize, usize)>> = BTreeMap::new();
    for (m, (_, sources)) in planned.iter().enumerate() {
        // A marker's bytes come from its entry, not from a GET.
        for (s, source) in sources
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.entry.is_marker())
        {
            let start = source.entry.position;
            let end = start + u64::from(source.entry.len);
            by_object
                .entry(source.key.as_str())
                .or_default()
                .push((start, end, m, s));
        }
    }
    let mut spans: Vec<Span> = Vec::new();
    for (key, mut ranges) in by_object {
        ranges.sort_unstable();
        let mut current: Option<Span> = None;
        for (start, end, m, s) in ranges {
            let joins = current.as_ref().is_some_and(|span| {
                start <= span.end.saturating_add(MAX_READ_GAP)
                    && end.max(span.end) - span.start <= MAX_READ_SPAN
            });
            if !joins {
                spans.extend(current.take());
            }
            let span = current.get_or_insert_with(|| Span {
                key: key.to_string(),
                start,
                end,
                members: Vec::new(),
            });
            span.end = span.end.max(end);
            span.members.push((m, s, start - span.start));
        }
        spans.extend(current);
    }
    spans
}

fn slice(bytes: &Bytes, at: u64, len: u64) -> Option<Bytes> {
    let start = usize::try_from(at).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= bytes.len()).then(|| bytes.slice(start..end))
}

#[cfg(test)]
mod tests {
    use skiff_meta::{IndexEntry, JobKind, JobSpec, PartitionRef};

    use super::*;

    fn source(key: &str, position: u64, len: u32) -> Source {
        Source {
            entry: IndexEntry {
                base_offset: 0,
                last_offset: 0,
                object_id: 1,
                position,
                len,
                max_timestamp: 0,
            },
            key: key.into(),
            real_offsets: false,
        }
    }

    fn job(id: u64) -> Job {
        Job {
            id,
            spec: JobSpec {
                kind: JobKind::Merge,
                partition: PartitionRef {
                    topic_id: uuid::Uuid::nil(),
                    partition: 0,
                },
                first_offset: 0,
                last_offset: 0,
                source_entries: 0,
                source_bytes: 0,
                max_entry_bytes: 0,
            },
            broker_id: 1,
            planned_ms: 0,
            lease_until_ms: 0,
        }
    }

    #[test]
    fn entries_of_one_object_share_a_get_unless_far_apart_or_too_long() {
        let planned = vec![
            (job(1), vec![source("a", 0, 100), source("b", 0, 10)]),
            (
                job(2),
                vec![
                    source("a", 100, 100),
                    source("a", 200 + MAX_READ_GAP, 50),
                    source("a", 10 * MAX_READ_GAP, 50),
                ],
            ),
            (
                job(3),
                vec![
                    source("c", 0, 10),
                    source("c", 10, u32::try_from(MAX_READ_SPAN).unwrap()),
                ],
            ),
        ];
        let spans = spans(&planned);
        let shape: Vec<(&str, u64, u64, usize)> = spans
            .iter()
            .map(|s| (s.key.as_str(), s.start, s.end, s.members.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a", 0, 250 + MAX_READ_GAP, 3),
                ("a", 10 * MAX_READ_GAP, 10 * MAX_READ_GAP + 50, 1),
                ("b", 0, 10, 1),
                ("c", 0, 10, 1),
                ("c", 10, 10 + MAX_READ_SPAN, 1),
            ]
        );
        // Each member says where its bytes start in the span.
        assert_eq!(
            spans[0].members,
            vec![(0, 0, 0), (1, 0, 100), (1, 1, 200 + MAX_READ_GAP)]
        );
    }
}
