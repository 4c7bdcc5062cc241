//! Admin requests (create/delete topics, partitions, configs) share one shape: validate each
//! item, propose the valid ones in a single command, and map each outcome back to its item.

use kafka_protocol::error::ResponseError;
use skiff_controller::{Command, CommandResponse, TopicError};

use crate::context::BrokerContext;
use crate::kafka_error::{controller_error_code, topic_error_code};

/// One item's result, with the Kafka error code and message on failure.
pub type ItemOutcome<T> = Result<T, (i16, String)>;

/// Proposes `command` covering `count` items and returns one outcome per item, in order.
/// `unpack` picks the per-item results out of the matching response variant.
pub async fn propose_items<T>(
    ctx: &BrokerContext,
    command: Command,
    count: usize,
    unpack: impl FnOnce(CommandResponse) -> Option<Vec<Result<T, TopicError>>>,
) -> Vec<ItemOutcome<T>> {
    let failed_all =
        |code: i16, message: String| (0..count).map(|_| Err((code, message.clone()))).collect();
    match ctx.controller.propose(command).await {
        Err(e) => failed_all(controller_error_code(&e), e.to_string()),
        Ok(response) => match unpack(response) {
            Some(outcomes) if outcomes.len() == count => outcomes
                .into_iter()
                .map(|outcome| outcome.map_err(|e| (topic_error_code(&e), e.to_string())))
                .collect(),
            _ => failed_all(
                ResponseError::UnknownServerError.code(),
                "unexpected controller answer".into(),
            ),
        },
    }
}
