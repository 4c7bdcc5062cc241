//! The dynamic broker configs Skiff has: each is the broker-wide default of one topic config.

/// One dynamic broker config key.
#[derive(Debug, Clone, Copy)]
pub struct BrokerConfigDef {
    pub name: &'static str,
    /// The topic config this key is the default of; values are validated as that key's.
    pub topic_key: &'static str,
    /// Whether one broker may override the cluster default. Only keys that act in checks a
    /// broker makes on its own (on produce) may: retention and compaction are planned by the
    /// controller leader for every partition, and a partition has no fixed broker, so those
    /// take the cluster default alone.
    pub per_broker: bool,
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    topic_key: &'static str,
    per_broker: bool,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        topic_key,
        per_broker,
        doc,
    }
}

/// Sorted by name so lookups can binary-search.
pub static BROKER_CONFIGS: &[BrokerConfigDef] = &[
    def(
        "compression.gzip.level",
        "compression.gzip.level",
        true,
        "Default compression.gzip.level, used by the broker that recompresses on produce.",
    ),
    def(
        "compression.type",
        "compression.type",
        true,
        "Default compression.type, applied by the broker a record is produced to.",
    ),
    def(
        "compression.zstd.level",
        "compression.zstd.level",
        true,
        "Default compression.zstd.level, used by the broker that recompresses on produce.",
    ),
    def(
        "log.cleaner.delete.retention.ms",
        "delete.retention.ms",
        false,
        "Default delete.retention.ms: how long tombstones survive compaction. Cluster-wide.",
    ),
    def(
        "log.cleaner.max.compaction.lag.ms",
        "max.compaction.lag.ms",
        false,
        "Default max.compaction.lag.ms. Cluster-wide.",
    ),
    def(
        "log.cleaner.min.cleanable.ratio",
        "min.cleanable.dirty.ratio",
        false,
        "Default min.cleanable.dirty.ratio. Cluster-wide.",
    ),
    def(
        "log.cleaner.min.compaction.lag.ms",
        "min.compaction.lag.ms",
        false,
        "Default min.compaction.lag.ms. Cluster-wide.",
    ),
    def(
        "log.cleanup.policy",
        "cleanup.policy",
        false,
        "Default cleanup.policy (delete, compact or both): what retention and compaction do, \
         and whether produce requires keys. Cluster-wide.",
    ),
    def(
        "log.message.timestamp.after.max.ms",
        "message.timestamp.after.max.ms",
        true,
        "Default message.timestamp.after.max.ms, checked by the broker a record is produced to.",
    ),
    def(
        "log.message.timestamp.before.max.ms",
        "message.timestamp.before.max.ms",
        true,
        "Default message.timestamp.before.max.ms, checked by the broker a record is produced to.",
    ),
    def(
        "log.message.timestamp.difference.max.ms",
        "message.timestamp.difference.max.ms",
        true,
        "Default message.timestamp.difference.max.ms (deprecated), checked on produce.",
    ),
    def(
        "log.message.timestamp.type",
        "message.timestamp.type",
        true,
        "Default message.timestamp.type, applied by the broker a record is produced to.",
    ),
    def(
        "log.retention.bytes",
        "retention.bytes",
        false,
        "Default retention.bytes per partition (-1: no limit). Cluster-wide.",
    ),
    def(
        "log.retention.ms",
        "retention.ms",
        false,
        "Default retention.ms (-1: forever). Cluster-wide.",
    ),
    def(
        "message.max.bytes",
        "max.message.bytes",
        true,
        "Default max.message.bytes: the largest record batch a broker accepts.",
    ),
];

/// Looks up a dynamic broker config key.
pub fn broker_config_def(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .and_then(|i| BROKER_CONFIGS.get(i))
}

/// The broker config whose value is the default of a topic config, if there is one.
pub fn broker_synonym_of(topic_key: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS.iter().find(|d| d.topic_key == topic_key)
}
