//! Talking to the cluster before the load starts: client settings, "is anyone there",
//! creating the topic, and each partition's offsets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

use crate::args::{CommonArgs, LoadArgs};
use crate::consumer::PartitionRange;
use crate::error::BenchError;

/// Until a just-created topic shows up in metadata, look again this often.
const TOPIC_VISIBLE_RETRY: Duration = Duration::from_millis(50);

/// Settings every client of a run shares: the cluster, then every key of `--command-config`
/// (librdkafka names a key it does not know, or a bad value, when the client is created).
pub fn client_config(common: &CommonArgs) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &common.bootstrap)
        .set("client.id", "skiff-bench");
    if let Some(props) = &common.command_config {
        for (key, value) in props.librdkafka_pairs() {
            config.set(key, value);
        }
    }
    config
}

/// The producer's settings: the flags, then `--producer-prop` overrides.
pub fn producer_config(common: &CommonArgs, load: &LoadArgs) -> ClientConfig {
    let mut config = client_config(common);
    config
        .set("acks", load.acks.as_config())
        .set("compression.type", load.compression.as_config())
        .set("linger.ms", load.linger_ms.to_string())
        .set("batch.size", load.batch_size.to_string());
    // librdkafka refuses a batch.size above message.max.bytes, so raise the latter with it.
    if load.batch_size > 1_000_000 {
        config.set("message.max.bytes", load.batch_size.to_string());
    }
    for (key, value) in &load.producer_props {
        config.set(key, value);
    }
    config
}

/// The consumer's settings: a fresh group that never joins or commits (partitions are
/// assigned), then `--consumer-prop` overrides.
pub fn consumer_config(common: &CommonArgs, props: &[(String, String)]) -> ClientConfig {
    let mut config = client_config(common);
    config
        // librdkafka's assign() needs a group id even though the group is never joined.
        .set("group.id", fresh_group_id())
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    for (key, value) in props {
        config.set(key, value);
    }
    config
}

/// A group id no earlier run used, so no committed offsets or members get in the way.
fn fresh_group_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("skiff-bench-{}-{nanos}", std::process::id())
}

/// A metadata and admin connection to the cluster.
#[derive(Clone)]
pub struct Cluster {
    admin: Arc<AdminClient<DefaultClientContext>>,
    bootstrap: String,
    timeout: Duration,
}

fn admin_client(common: &CommonArgs) -> Result<AdminClient<DefaultClientContext>, BenchError> {
    client_config(common)
        .create()
        .map_err(|source| BenchError::client_creation("create the admin client", source))
}

impl Cluster {
    /// Connects and checks that a broker answers within `common.connect_timeout`.
    pub async fn connect(common: &CommonArgs) -> Result<Cluster, BenchError> {
        let admin = admin_client(common)?;
        let cluster = Cluster {
            admin: Arc::new(admin),
            bootstrap: common.bootstrap.clone(),
            timeout: common.connect_timeout,
        };
        // Any answer to a metadata request proves a broker is there; the empty name matches
        // no topic, so this creates nothing.
        cluster.partitions_of("").await?;
        Ok(cluster)
    }

    /// The partition ids of `topic`, sorted, or `None` when it does not exist. Asks for all
    /// topics, because asking for one by name lets a broker auto-create it.
    pub async fn partitions_of(&self, topic: &str) -> Result<Option<Vec<i32>>, BenchError> {
        let admin = self.admin.clone();
        let timeout = self.timeout;
        let topic = topic.to_owned();
        let metadata = blocking(move || admin.inner().fetch_metadata(None, timeout)).await?;
        let metadata = metadata.map_err(|source| BenchError::Unreachable {
            bootstrap: self.bootstrap.clone(),
            timeout: self.timeout,
            source,
        })?;
        let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Ok(None);
        };
        let mut partitions: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
        partitions.sort_unstable();
        Ok(Some(partitions))
    }

    /// The partitions of `topic`, which must exist and have some.
    pub async fn existing_partitions(&self, topic: &str) -> Result<Vec<i32>, BenchError> {
        match self.partitions_of(topic).await? {
            None => Err(BenchError::TopicMissing {
                topic: topic.to_owned(),
            }),
            Some(partitions) if partitions.is_empty() => Err(BenchError::NoPartitions {
                topic: topic.to_owned(),
            }),
            Some(partitions) => Ok(partitions),
        }
    }

    /// The partitions of `topic`, creating it with `count` partitions when it is missing.
    pub async fn ensure_topic(&self, topic: &str, count: i32) -> Result<Vec<i32>, BenchError> {
        if let Some(partitions) = self.partitions_of(topic).await?
            && !partitions.is_empty()
        {
            if partitions.len() != usize::try_from(count).unwrap_or(0) {
                tracing::warn!(
                    topic,
                    existing = partitions.len(),
                    requested = count,
                    "the topic exists with another partition count; using it as it is"
                );
            }
            return Ok(partitions);
        }
        if count < 1 {
            return Err(BenchError::InvalidSetting(format!(
                "--partitions must be at least 1, got {count}"
            )));
        }
        let new_topic = NewTopic::new(topic, count, TopicReplication::Fixed(1));
        let options = AdminOptions::new()
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout));
        let results = self
            .admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|source| BenchError::Kafka {
                action: "create the topic",
                source,
            })?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(BenchError::TopicCreate {
                        topic: name,
                        reason: code.to_string(),
                    });
                }
            }
        }
        self.wait_until_visible(topic).await
    }

    /// Metadata can trail a CreateTopics answer; wait (bounded) until the topic shows.
    async fn wait_until_visible(&self, topic: &str) -> Result<Vec<i32>, BenchError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(partitions) = self.partitions_of(topic).await?
                && !partitions.is_empty()
            {
                return Ok(partitions);
            }
            if Instant::now() >= deadline {
                return Err(BenchError::TopicCreate {
                    topic: topic.to_owned(),
                    reason: format!(
                        "created, but not in metadata after {}s",
                        self.timeout.as_secs_f64()
                    ),
                });
            }
            tokio::time::sleep(TOPIC_VISIBLE_RETRY).await;
        }
    }

    /// Each partition's (log start, high watermark) as a range to read.
    pub async fn offsets(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<Vec<PartitionRange>, BenchError> {
        let admin = self.admin.clone();
        let timeout = self.timeout;
        let topic = topic.to_owned();
        let partitions = partitions.to_vec();
        let ranges = blocking(move || {
            partitions
                .iter()
                .map(|&partition| {
                    let (start, end) =
                        admin.inner().fetch_watermarks(&topic, partition, timeout)?;
                    Ok(PartitionRange {
                        partition,
                        start,
                        end,
                    })
                })
                .collect::<Result<Vec<_>, rdkafka::error::KafkaError>>()
        })
        .await?;
        ranges.map_err(|source| BenchError::Kafka {
            action: "read the partitions' offsets",
            source,
        })
    }
}

/// Runs a blocking librdkafka call off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BenchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| BenchError::WorkerLost {
            name: "librdkafka request",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::parse_properties;

    fn common(properties: &str) -> CommonArgs {
        CommonArgs {
            bootstrap: "127.0.0.1:1".into(),
            topic: "t".into(),
            json: false,
            metrics_url: None,
            connect_timeout: Duration::from_secs(1),
            command_config: Some(parse_properties(properties).unwrap()),
        }
    }

    fn create_error(properties: &str) -> String {
        match admin_client(&common(properties)) {
            Ok(_) => panic!("{properties:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn command_config_keys_reach_librdkafka_which_names_bad_ones() {
        let config = client_config(&common(
            "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=x required username=\"alice\" password=\"pw\";\n",
        ));
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.username"), Some("alice"));
        assert_eq!(config.get("sasl.password"), Some("pw"));
        assert_eq!(config.get("sasl.jaas.config"), None);
        let unknown = create_error("sasl.pasword=hunter2\n");
        assert!(unknown.contains("sasl.pasword"), "{unknown}");
        assert!(
            !unknown.contains("hunter2"),
            "the value may be a secret: {unknown}"
        );
        let bad = create_error("security.protocol=SASL_SSLX\n");
        assert!(
            bad.contains("security.protocol") && bad.contains("SASL_SSLX"),
            "{bad}"
        );
        // This build's librdkafka has no OpenSSL: TLS and SCRAM are refused with the reason.
        for properties in [
            "security.protocol=SASL_SSL\nssl.ca.location=/ca.pem\n",
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n\
             sasl.username=a\nsasl.password=b\n",
        ] {
            let refused = create_error(properties);
            assert!(refused.contains("built without OpenSSL"), "{refused}");
        }
        let config = client_config(&common(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
             sasl.username=a\nsasl.password=b\n",
        ));
        config
            .create::<AdminClient<DefaultClientContext>>()
            .expect("SASL_PLAINTEXT with PLAIN needs no OpenSSL");
    }
}
