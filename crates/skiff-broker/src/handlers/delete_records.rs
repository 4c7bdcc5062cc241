//! DeleteRecords: moves partitions' log start offsets forward (Kafka's `AdminClient
//! .deleteRecords`). Every named partition gets its own result with the new low watermark;
//! all valid partitions go to the controller in one proposal. On a topic that archives,
//! DeleteRecords still wins over the archive (the user asked for it explicitly, unlike
//! retention, which waits for the archive): records it removes before they were archived
//! never reach the table, and a warning says so.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use skiff_meta::{DeleteRecords, Propose, RecordDeletion};

use crate::clock::now_ms;
use crate::context::BrokerContext;
use crate::kafka_error::{log_error_code, lookup_error_code, propose_error_code};
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: DeleteRecordsRequest,
    _version: i16,
) -> DeleteRecordsResponse {
    let mut topics: Vec<DeleteRecordsTopicResult> = Vec::with_capacity(request.topics.len());
    // (topic index, partition index in its result) of each partition proposed.
    let mut positions: Vec<(usize, usize)> = Vec::new();
    let mut deletions: Vec<RecordDeletion> = Vec::new();
    {
        let state = ctx.controller.state();
        let state = state.read();
        for t in &request.topics {
            let mut result = DeleteRecordsTopicResult::default();
            result.name = t.name.clone();
            let topic =
                if ctx
                    .authorizer
                    .allows_topic(caller, AclOperation::Delete, t.name.as_str())
                {
                    TopicLookup::Name(t.name.as_str())
                        .resolve(&state)
                        .map_err(lookup_error_code)
                } else {
                    Err(ResponseError::TopicAuthorizationFailed.code())
                };
            for p in &t.partitions {
                let mut partition = DeleteRecordsPartitionResult::default();
                partition.partition_index = p.partition_index;
                partition.low_watermark = -1;
                let exists = topic.as_ref().map_err(|e| *e).and_then(|topic| {
                    u32::try_from(p.partition_index)
                        .ok()
                        .filter(|i| usize::try_from(*i).is_ok_and(|i| i < topic.partitions.len()))
                        .map(|i| (topic.id, i))
                        .ok_or(ResponseError::UnknownTopicOrPartition.code())
                });
                match exists {
                    Ok((topic_id, index)) => {
                        warn_if_unarchived(&state, &t.name, topic_id, index, p.offset);
                        positions.push((topics.len(), result.partitions.len()));
                        deletions.push(RecordDeletion {
                            topic_id,
                            partition: index,
                            offset: p.offset,
                        });
                    }
                    Err(code) => partition.error_code = code,
                }
                result.partitions.push(partition);
            }
            topics.push(result);
        }
    }

    if !deletions.is_empty() {
        let outcome = ctx
            .controller
            .propose(DeleteRecords {
                now_ms: now_ms(),
                partitions: deletions,
            })
            .await;
        match outcome {
            Ok(answers) => {
                for ((t, p), answer) in positions.into_iter().zip(answers) {
                    let partition = &mut topics[t].partitions[p];
                    match answer {
                        Ok(truncation) => partition.low_watermark = truncation.log_start_offset,
                        Err(e) => partition.error_code = log_error_code(&e),
                    }
                }
            }
            Err(e) => {
                let code = propose_error_code(&e);
                for (t, p) in positions {
                    topics[t].partitions[p].error_code = code;
                }
            }
        }
    }
    let mut response = DeleteRecordsResponse::default();
    response.topics = topics;
    response
}

/// DeleteRecords past a partition's archived offset loses those records for the archive.
fn warn_if_unarchived(
    state: &skiff_meta::ControllerState,
    topic: &str,
    topic_id: skiff_meta::TopicId,
    partition: u32,
    offset: i64,
) {
    let at = skiff_meta::PartitionRef {
        topic_id,
        partition,
    };
    let Some(hold) = state.archive_hold(at) else {
        return;
    };
    let end = state
        .partition_log(at)
        .map_or(0, |log| log.high_watermark());
    let to = if offset == skiff_meta::DELETE_TO_HIGH_WATERMARK {
        end
    } else {
        offset
    };
    if to > hold {
        tracing::warn!(
            topic,
            partition,
            offset = to,
            archived_until = hold,
            "DeleteRecords removes records the archive has not taken yet; they will be missing \
             from the topic's Iceberg table"
        );
    }
}
