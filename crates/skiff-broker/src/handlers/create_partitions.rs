use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use skiff_meta::{CreatePartitions, PartitionIncrease};

use super::str_bytes;
use crate::admin::propose_items;
use crate::context::BrokerContext;
use crate::kafka_error::lookup_error_code;
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    let mut increases: Vec<(usize, PartitionIncrease)> = Vec::new();
    {
        let state = ctx.controller.state();
        let state = state.read();
        for t in &request.topics {
            let mut result = CreatePartitionsTopicResult::default();
            result.name = t.name.clone();
            match TopicLookup::Name(t.name.as_str()).resolve(&state) {
                _ if !ctx
                    .authorizer
                    .allows_topic(caller, AclOperation::Alter, t.name.as_str()) =>
                {
                    set_error(
                        &mut result,
                        ResponseError::TopicAuthorizationFailed.code(),
                        "not authorized to alter the topic".into(),
                    )
                }
                Err(e) => set_error(
                    &mut result,
                    lookup_error_code(e),
                    format!("unknown topic {}", t.name.as_str()),
                ),
                Ok(topic) => {
                    let current = topic.partitions.len() as i32;
                    if t.count <= current {
                        let message = format!(
                            "topic has {current} partitions; the new count must be larger, got {}",
                            t.count
                        );
                        set_error(
                            &mut result,
                            ResponseError::InvalidPartitions.code(),
                            message,
                        );
                    } else if !request.validate_only {
                        increases.push((
                            results.len(),
                            PartitionIncrease {
                                topic: topic.id,
                                total: t.count as u32,
                            },
                        ));
                    }
                }
            }
            results.push(result);
        }
    }

    if !increases.is_empty() {
        let (positions, increases): (Vec<usize>, Vec<PartitionIncrease>) =
            increases.into_iter().unzip();
        let outcomes = propose_items(ctx, CreatePartitions(increases)).await;
        for (position, outcome) in positions.into_iter().zip(outcomes) {
            if let Err((code, message)) = outcome {
                set_error(&mut results[position], code, message);
            }
        }
    }
    let mut response = CreatePartitionsResponse::default();
    response.results = results;
    response
}

fn set_error(result: &mut CreatePartitionsTopicResult, code: i16, message: String) {
    result.error_code = code;
    result.error_message = Some(str_bytes(&message));
}
