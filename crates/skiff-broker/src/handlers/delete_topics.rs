use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use skiff_meta::{DeleteTopics, TopicId};

use super::{str_bytes, topic_name};
use crate::admin::propose_items;
use crate::context::BrokerContext;
use crate::kafka_error::lookup_error_code;
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    // v6 names topics by name or id; older versions by name only.
    let lookups: Vec<TopicLookup<'_>> = if version >= 6 {
        request
            .topics
            .iter()
            .map(|t| match &t.name {
                Some(name) => TopicLookup::Name(name.as_str()),
                None => TopicLookup::Id(t.topic_id),
            })
            .collect()
    } else {
        request
            .topic_names
            .iter()
            .map(|n| TopicLookup::Name(n.as_str()))
            .collect()
    };

    let mut results = Vec::with_capacity(lookups.len());
    let mut to_delete: Vec<(usize, TopicId)> = Vec::new();
    {
        let state = ctx.controller.state();
        let state = state.read();
        for lookup in &lookups {
            let mut result = DeletableTopicResult::default();
            match lookup {
                TopicLookup::Name(name) => result.name = Some(topic_name(name)),
                TopicLookup::Id(id) => result.topic_id = *id,
            }
            match lookup.resolve(&state) {
                Ok(topic)
                    if !ctx
                        .authorizer
                        .allows_topic(caller, AclOperation::Delete, &topic.name) =>
                {
                    set_error(
                        &mut result,
                        ResponseError::TopicAuthorizationFailed.code(),
                        "not authorized to delete the topic".into(),
                        version,
                    );
                }
                Ok(topic) => {
                    result.name = Some(topic_name(&topic.name));
                    if version >= 6 {
                        result.topic_id = topic.id;
                    }
                    to_delete.push((results.len(), topic.id));
                }
                Err(e) => set_error(
                    &mut result,
                    lookup_error_code(e),
                    "no such topic".into(),
                    version,
                ),
            }
            results.push(result);
        }
    }

    if !to_delete.is_empty() {
        let (positions, ids): (Vec<usize>, Vec<TopicId>) = to_delete.into_iter().unzip();
        let outcomes = propose_items(ctx, DeleteTopics(ids)).await;
        for (position, outcome) in positions.into_iter().zip(outcomes) {
            if let Err((code, message)) = outcome {
                set_error(&mut results[position], code, message, version);
            }
        }
    }
    let mut response = DeleteTopicsResponse::default();
    response.responses = results;
    response
}

fn set_error(result: &mut DeletableTopicResult, code: i16, message: String, version: i16) {
    result.error_code = code;
    if version >= 5 {
        result.error_message = Some(str_bytes(&message));
    }
}
