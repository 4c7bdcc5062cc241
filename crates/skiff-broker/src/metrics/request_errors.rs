//! Whether a response tells the client about an error.
//!
//! The response is already built, so checking its error codes is a walk over its topics and
//! partitions (never records) that the encoder makes anyway; it needs no change to the
//! handlers and cannot drift from what the client actually sees.

use kafka_protocol::messages::ResponseKind;

use crate::reply::Reply;

const NONE: i16 = 0;

/// True when the reply carries any non-zero error code, at any level.
pub fn reply_has_error(reply: &Reply) -> bool {
    match reply {
        Reply::Nothing | Reply::SaslToken(_) => false,
        Reply::Error(code) => *code != NONE,
        Reply::Response(response) => response_has_error(response),
    }
}

fn any<T>(items: &[T], failed: impl Fn(&T) -> bool) -> bool {
    items.iter().any(failed)
}

fn response_has_error(response: &ResponseKind) -> bool {
    match response {
        ResponseKind::SaslHandshake(r) => r.error_code != NONE,
        ResponseKind::SaslAuthenticate(r) => r.error_code != NONE,
        ResponseKind::Produce(r) => any(&r.responses, |t| {
            any(&t.partition_responses, |p| p.error_code != NONE)
        }),
        ResponseKind::Fetch(r) => {
            r.error_code != NONE
                || any(&r.responses, |t| {
                    any(&t.partitions, |p| p.error_code != NONE)
                })
        }
        ResponseKind::ListOffsets(r) => {
            any(&r.topics, |t| any(&t.partitions, |p| p.error_code != NONE))
        }
        ResponseKind::Metadata(r) => {
            r.error_code != NONE
                || any(&r.topics, |t| {
                    t.error_code != NONE || any(&t.partitions, |p| p.error_code != NONE)
                })
        }
        ResponseKind::ApiVersions(r) => r.error_code != NONE,
        ResponseKind::CreateTopics(r) => any(&r.topics, |t| t.error_code != NONE),
        ResponseKind::DeleteTopics(r) => any(&r.responses, |t| t.error_code != NONE),
        ResponseKind::InitProducerId(r) => r.error_code != NONE,
        ResponseKind::DescribeConfigs(r) => any(&r.results, |t| t.error_code != NONE),
        ResponseKind::CreatePartitions(r) => any(&r.results, |t| t.error_code != NONE),
        ResponseKind::IncrementalAlterConfigs(r) => any(&r.responses, |t| t.error_code != NONE),
        ResponseKind::DescribeCluster(r) => r.error_code != NONE,
        ResponseKind::FindCoordinator(r) => {
            r.error_code != NONE || any(&r.coordinators, |c| c.error_code != NONE)
        }
        ResponseKind::JoinGroup(r) => r.error_code != NONE,
        ResponseKind::SyncGroup(r) => r.error_code != NONE,
        ResponseKind::Heartbeat(r) => r.error_code != NONE,
        ResponseKind::LeaveGroup(r) => {
            r.error_code != NONE || any(&r.members, |m| m.error_code != NONE)
        }
        ResponseKind::OffsetCommit(r) => {
            any(&r.topics, |t| any(&t.partitions, |p| p.error_code != NONE))
        }
        ResponseKind::OffsetFetch(r) => {
            r.error_code != NONE
                || any(&r.topics, |t| any(&t.partitions, |p| p.error_code != NONE))
                || any(&r.groups, |g| {
                    g.error_code != NONE
                        || any(&g.topics, |t| any(&t.partitions, |p| p.error_code != NONE))
                })
        }
        ResponseKind::DescribeGroups(r) => any(&r.groups, |g| g.error_code != NONE),
        ResponseKind::ListGroups(r) => r.error_code != NONE,
        ResponseKind::DeleteGroups(r) => any(&r.results, |g| g.error_code != NONE),
        ResponseKind::OffsetDelete(r) => {
            r.error_code != NONE || any(&r.topics, |t| any(&t.partitions, |p| p.error_code != NONE))
        }
        // The router builds no other response kinds.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::{HeartbeatResponse, ProduceResponse};

    use super::*;

    fn produce_with_codes(codes: &[i16]) -> Reply {
        let mut topic = TopicProduceResponse::default();
        for &code in codes {
            let mut partition = PartitionProduceResponse::default();
            partition.error_code = code;
            topic.partition_responses.push(partition);
        }
        let mut response = ProduceResponse::default();
        response.responses.push(topic);
        Reply::Response(ResponseKind::Produce(response))
    }

    #[test]
    fn a_nested_error_code_marks_the_response() {
        assert!(!reply_has_error(&produce_with_codes(&[0, 0])));
        assert!(reply_has_error(&produce_with_codes(&[0, 3])));
    }

    #[test]
    fn top_level_codes_and_bare_errors_count() {
        let mut heartbeat = HeartbeatResponse::default();
        assert!(!reply_has_error(&Reply::Response(ResponseKind::Heartbeat(
            heartbeat.clone()
        ))));
        heartbeat.error_code = 27;
        assert!(reply_has_error(&Reply::Response(ResponseKind::Heartbeat(
            heartbeat
        ))));
        assert!(reply_has_error(&Reply::Error(35)));
        assert!(!reply_has_error(&Reply::Nothing));
    }
}
