//! Kafka's topic-level config keys (as of Kafka 3.9) with their defaults, types and validation.

use serde::{Deserialize, Serialize};

/// The value type a config key has, as DescribeConfigs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Long,
    Int,
    Bool,
    Double,
    String,
    List,
    /// A string restricted to a fixed set of values.
    Enum,
}

/// How a value is checked beyond parsing as its type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rule {
    Any,
    AtLeast(i64),
    Between(f64, f64),
    /// A codec level: within `min..=max`, or `default` (gzip's -1 lies outside its range).
    Level {
        min: i64,
        max: i64,
        default: i64,
    },
    OneOf(&'static [&'static str]),
    /// A non-empty comma-separated list drawn from the set.
    ListOf(&'static [&'static str]),
    /// `*`, empty, or a comma-separated list of `partition:broker` pairs.
    ThrottledReplicas,
}

/// One topic-level config key.
#[derive(Debug, Clone, Copy)]
pub struct ConfigDef {
    pub name: &'static str,
    pub config_type: ConfigType,
    /// Kafka's default, as the string DescribeConfigs shows.
    pub default: &'static str,
    /// Whether Skiff acts on the value; the others are accepted and stored for compatibility
    /// with tools that set them, but have no effect (DescribeConfigs says so in their
    /// documentation).
    pub honoured: bool,
    pub doc: &'static str,
    pub(crate) rule: Rule,
}

const LONG_MAX: &str = "9223372036854775807";

const fn def(
    name: &'static str,
    config_type: ConfigType,
    default: &'static str,
    honoured: bool,
    rule: Rule,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        default,
        honoured,
        doc,
        rule,
    }
}

use ConfigType::{Bool, Double, Enum, Int, List, Long};

/// Sorted by name so lookups can binary-search.
pub static TOPIC_CONFIGS: &[ConfigDef] = &[
    def(
        "cleanup.policy",
        List,
        "delete",
        true,
        Rule::ListOf(&["compact", "delete"]),
        "Retention policy for old segments: delete, compact, or both.",
    ),
    def(
        "compression.gzip.level",
        Int,
        "-1",
        true,
        Rule::Level {
            min: 1,
            max: 9,
            default: -1,
        },
        "gzip level (1-9, -1 for the default, 6) when compression.type=gzip recompresses.",
    ),
    def(
        "compression.lz4.level",
        Int,
        "9",
        false,
        Rule::Level {
            min: 1,
            max: 17,
            default: 9,
        },
        "Accepted for compatibility: Skiff's LZ4 encoder has one level (LZ4's fast mode).",
    ),
    def(
        "compression.type",
        Enum,
        "producer",
        true,
        Rule::OneOf(&["gzip", "lz4", "producer", "snappy", "uncompressed", "zstd"]),
        "The codec batches are stored in: 'producer' keeps what the producer sent; any other \
         value recompresses batches sent in another codec on produce.",
    ),
    def(
        "compression.zstd.level",
        Int,
        "3",
        true,
        Rule::Level {
            min: -131_072,
            max: 22,
            default: 3,
        },
        "zstd level (-131072 to 22) when compression.type=zstd recompresses.",
    ),
    def(
        "delete.retention.ms",
        Long,
        "86400000",
        true,
        Rule::AtLeast(0),
        "How long tombstones are kept on compacted topics.",
    ),
    def(
        "file.delete.delay.ms",
        Long,
        "60000",
        false,
        Rule::AtLeast(0),
        "Delay before deleting a file; objects are collected by Skiff's own grace period.",
    ),
    def(
        "flush.messages",
        Long,
        LONG_MAX,
        false,
        Rule::AtLeast(1),
        "Fsync interval in messages; Skiff acknowledges only after the object store write.",
    ),
    def(
        "flush.ms",
        Long,
        LONG_MAX,
        false,
        Rule::AtLeast(0),
        "Fsync interval in ms; Skiff acknowledges only after the object store write.",
    ),
    def(
        "follower.replication.throttled.replicas",
        List,
        "",
        false,
        Rule::ThrottledReplicas,
        "Replicas to throttle on followers; Skiff has no replicas.",
    ),
    def(
        "index.interval.bytes",
        Int,
        "4096",
        false,
        Rule::AtLeast(0),
        "Offset index density; Skiff indexes per flushed chunk.",
    ),
    def(
        "leader.replication.throttled.replicas",
        List,
        "",
        false,
        Rule::ThrottledReplicas,
        "Replicas to throttle on the leader; Skiff has no replicas.",
    ),
    def(
        "local.retention.bytes",
        Long,
        "-2",
        false,
        Rule::AtLeast(-2),
        "Tiered storage local retention; all Skiff data lives in the object store.",
    ),
    def(
        "local.retention.ms",
        Long,
        "-2",
        false,
        Rule::AtLeast(-2),
        "Tiered storage local retention; all Skiff data lives in the object store.",
    ),
    def(
        "max.compaction.lag.ms",
        Long,
        LONG_MAX,
        true,
        Rule::AtLeast(1),
        "Longest time a record stays ineligible for compaction.",
    ),
    def(
        "max.message.bytes",
        Int,
        "1048588",
        true,
        Rule::AtLeast(0),
        "Largest record batch size the broker accepts.",
    ),
    def(
        "message.downconversion.enable",
        Bool,
        "true",
        false,
        Rule::Any,
        "Down-conversion for old consumers; Skiff serves record batch v2 only.",
    ),
    def(
        "message.timestamp.after.max.ms",
        Long,
        LONG_MAX,
        true,
        Rule::AtLeast(0),
        "How far ahead of broker time a CreateTime timestamp may be.",
    ),
    def(
        "message.timestamp.before.max.ms",
        Long,
        LONG_MAX,
        true,
        Rule::AtLeast(0),
        "How far behind broker time a CreateTime timestamp may be.",
    ),
    def(
        "message.timestamp.difference.max.ms",
        Long,
        LONG_MAX,
        true,
        Rule::AtLeast(0),
        "Deprecated symmetric bound on timestamp skew.",
    ),
    def(
        "message.timestamp.type",
        Enum,
        "CreateTime",
        true,
        Rule::OneOf(&["CreateTime", "LogAppendTime"]),
        "Whether record timestamps come from the producer or from the broker on append.",
    ),
    def(
        "min.cleanable.dirty.ratio",
        Double,
        "0.5",
        true,
        Rule::Between(0.0, 1.0),
        "Dirty-log ratio that makes a compacted partition eligible for cleaning.",
    ),
    def(
        "min.compaction.lag.ms",
        Long,
        "0",
        true,
        Rule::AtLeast(0),
        "Shortest time a record stays uncompacted.",
    ),
    def(
        "min.insync.replicas",
        Int,
        "1",
        false,
        Rule::AtLeast(1),
        "Replica count for acks=all; Skiff acknowledges after the object store write.",
    ),
    def(
        "preallocate",
        Bool,
        "false",
        false,
        Rule::Any,
        "Preallocate segment files; Skiff has no local segment files.",
    ),
    def(
        "remote.storage.enable",
        Bool,
        "false",
        false,
        Rule::Any,
        "Tiered storage switch; all Skiff data lives in the object store.",
    ),
    def(
        "retention.bytes",
        Long,
        "-1",
        true,
        Rule::AtLeast(-1),
        "Largest size of a partition before old data is deleted; -1 for no limit.",
    ),
    def(
        "retention.ms",
        Long,
        "604800000",
        true,
        Rule::AtLeast(-1),
        "How long data is kept before deletion; -1 for no limit.",
    ),
    def(
        "segment.bytes",
        Int,
        "1073741824",
        false,
        Rule::AtLeast(14),
        "Local segment size; Skiff segments follow the broker's flush settings.",
    ),
    def(
        "segment.index.bytes",
        Int,
        "10485760",
        false,
        Rule::AtLeast(4),
        "Local index size; Skiff keeps its index in the controller.",
    ),
    def(
        "segment.jitter.ms",
        Long,
        "0",
        false,
        Rule::AtLeast(0),
        "Jitter for segment rolling; Skiff segments follow the broker's flush settings.",
    ),
    def(
        "segment.ms",
        Long,
        "604800000",
        false,
        Rule::AtLeast(1),
        "Time before a local segment rolls; Skiff segments follow the broker's flush settings.",
    ),
    def(
        "skiff.archive.enable",
        Bool,
        "false",
        false,
        Rule::Any,
        "Keep an Apache Iceberg table of this topic's records (Parquet) under archive/<topic>/ \
         in the object store, appended by a background job every --archive-interval-ms (or \
         sooner past --archive-flush-bytes). While enabled, retention and compaction keep \
         records the archive has not taken yet.",
    ),
    def(
        "skiff.archive.retention.ms",
        Long,
        "-1",
        true,
        Rule::AtLeast(-1),
        "How long the archive keeps records: each archive commit removes the Parquet files \
         whose records are all older than this (whole files, partitioned by UTC day), and \
         they are deleted once no snapshot kept for time travel (a day) reads them. -1 keeps \
         them forever. Independent of retention.ms.",
    ),
    def(
        "unclean.leader.election.enable",
        Bool,
        "false",
        false,
        Rule::Any,
        "Out-of-sync replica election; Skiff has no replicas to lose.",
    ),
];

/// Looks up a topic config key.
pub fn config_def(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .and_then(|i| TOPIC_CONFIGS.get(i))
}

impl ConfigDef {
    /// Checks `value` and returns it normalised (trimmed, lists without blanks), or what is
    /// wrong with it.
    pub(crate) fn normalise(&self, value: &str) -> Result<String, ConfigProblem> {
        let value = value.trim();
        match self.config_type {
            ConfigType::Long => {
                let n: i64 = value.parse().map_err(|_| ConfigProblem::NotAWholeNumber {
                    value: value.to_string(),
                })?;
                self.check_at_least(n)?;
                Ok(n.to_string())
            }
            ConfigType::Int => {
                let n: i32 = value.parse().map_err(|_| ConfigProblem::NotAnInt32 {
                    value: value.to_string(),
                })?;
                self.check_at_least(i64::from(n))?;
                Ok(n.to_string())
            }
            ConfigType::Bool => match value.to_ascii_lowercase().as_str() {
                b @ ("true" | "false") => Ok(b.to_string()),
                _ => Err(ConfigProblem::NotABoolean {
                    value: value.to_string(),
                }),
            },
            ConfigType::Double => {
                let x: f64 = value.parse().map_err(|_| ConfigProblem::NotANumber {
                    value: value.to_string(),
                })?;
                if let Rule::Between(lo, hi) = self.rule
                    && !(lo..=hi).contains(&x)
                {
                    return Err(ConfigProblem::OutsideRange {
                        value: value.to_string(),
                    });
                }
                Ok(value.to_string())
            }
            ConfigType::String | ConfigType::Enum => self.check_one_of(value),
            ConfigType::List => self.check_list(value),
        }
    }

    fn check_at_least(&self, n: i64) -> Result<(), ConfigProblem> {
        match self.rule {
            Rule::AtLeast(min) if n < min => Err(ConfigProblem::BelowMinimum { value: n, min }),
            Rule::Level { min, max, default } if n != default && !(min..=max).contains(&n) => {
                Err(ConfigProblem::OutsideRange {
                    value: n.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    fn check_one_of(&self, value: &str) -> Result<String, ConfigProblem> {
        let Rule::OneOf(allowed) = self.rule else {
            return Ok(value.to_string());
        };
        if allowed.contains(&value) {
            return Ok(value.to_string());
        }
        Err(ConfigProblem::NotOneOf {
            value: value.to_string(),
        })
    }

    fn check_list(&self, value: &str) -> Result<String, ConfigProblem> {
        let items: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        match self.rule {
            Rule::ListOf(allowed) => {
                if items.is_empty() {
                    return Err(ConfigProblem::EmptyList);
                }
                if let Some(bad) = items.iter().find(|i| !allowed.contains(i)) {
                    return Err(ConfigProblem::NotOneOf {
                        value: bad.to_string(),
                    });
                }
            }
            Rule::ThrottledReplicas if items != ["*"] => {
                for item in &items {
                    let valid = item
                        .split_once(':')
                        .is_some_and(|(p, b)| p.parse::<u32>().is_ok() && b.parse::<i32>().is_ok());
                    if !valid {
                        return Err(ConfigProblem::NotAPartitionBrokerPair {
                            item: item.to_string(),
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(items.join(","))
    }

    /// The values a `OneOf` or `ListOf` key accepts, for messages.
    pub(crate) fn allowed_values(&self) -> &'static [&'static str] {
        match self.rule {
            Rule::OneOf(allowed) | Rule::ListOf(allowed) => allowed,
            _ => &[],
        }
    }

    /// The bounds of a `Between` key, for messages.
    pub(crate) fn range(&self) -> Option<(f64, f64)> {
        match self.rule {
            Rule::Between(lo, hi) => Some((lo, hi)),
            Rule::Level { min, max, .. } => Some((min as f64, max as f64)),
            _ => None,
        }
    }
}

/// What is wrong with a config key or value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigProblem {
    UnknownKey,
    NotAWholeNumber {
        value: String,
    },
    NotAnInt32 {
        value: String,
    },
    NotABoolean {
        value: String,
    },
    NotANumber {
        value: String,
    },
    BelowMinimum {
        value: i64,
        min: i64,
    },
    /// Outside the key's `[low, high]` range (see the config table).
    OutsideRange {
        value: String,
    },
    /// Not among the key's allowed values (see the config table).
    NotOneOf {
        value: String,
    },
    /// A list key given no items.
    EmptyList,
    NotAPartitionBrokerPair {
        item: String,
    },
    /// One change both sets and deletes the key.
    BothSetAndDeleted,
    /// `min.compaction.lag.ms` above `max.compaction.lag.ms` (Kafka refuses the pair too).
    AboveMaxCompactionLag {
        min: i64,
        max: i64,
    },
}
