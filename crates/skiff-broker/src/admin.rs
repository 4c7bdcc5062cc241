//! Admin requests (create/delete topics, partitions, configs) share one shape: validate each
//! item, propose the valid ones in a single command, and map each outcome back to its item.

use skiff_meta::{
    AlterBrokerConfigs, AlterTopicConfigs, Proposal, Propose, TopicConfigChange, TopicError,
};

use crate::context::BrokerContext;
use crate::kafka_error::{propose_error_code, topic_error_code};

/// One item's result, with the Kafka error code and message on failure.
pub type ItemOutcome<T> = Result<T, (i16, String)>;

/// Proposes one batched command and returns one outcome per item, in order (the proposal's
/// answer has exactly one result per item, or the proposal as a whole failed).
pub async fn propose_items<P, T>(ctx: &BrokerContext, proposal: P) -> Vec<ItemOutcome<T>>
where
    P: Proposal<Answer = Vec<Result<T, TopicError>>> + Send + 'static,
    T: Send,
{
    let count = match proposal.shape() {
        skiff_meta::Shape::Items(n) => n,
        _ => 1,
    };
    match ctx.controller.propose(proposal).await {
        Err(e) => {
            let (code, message) = (propose_error_code(&e), e.to_string());
            (0..count).map(|_| Err((code, message.clone()))).collect()
        }
        Ok(outcomes) => outcomes
            .into_iter()
            .map(|outcome| outcome.map_err(|e| (topic_error_code(&e), e.to_string())))
            .collect(),
    }
}

/// Config changes planned per resource (`Ok(None)`: valid, nothing to apply, as for
/// validate_only), proposed together as one `AlterTopicConfigs`; one outcome per resource.
pub async fn alter_topic_configs(
    ctx: &BrokerContext,
    planned: Vec<ItemOutcome<Option<TopicConfigChange>>>,
) -> Vec<ItemOutcome<()>> {
    let mut outcomes: Vec<ItemOutcome<()>> = Vec::with_capacity(planned.len());
    let mut changes: Vec<(usize, TopicConfigChange)> = Vec::new();
    for plan in planned {
        match plan {
            Ok(Some(change)) => changes.push((outcomes.len(), change)),
            Ok(None) => {}
            Err(error) => {
                outcomes.push(Err(error));
                continue;
            }
        }
        outcomes.push(Ok(()));
    }
    if !changes.is_empty() {
        let (positions, changes): (Vec<usize>, Vec<TopicConfigChange>) =
            changes.into_iter().unzip();
        let proposed = propose_items(ctx, AlterTopicConfigs(changes)).await;
        for (position, outcome) in positions.into_iter().zip(proposed) {
            outcomes[position] = outcome;
        }
    }
    outcomes
}

/// A validated config change of one resource of an alter request.
pub enum ConfigChange {
    Topic(TopicConfigChange),
    /// The cluster default or one broker's dynamic configs.
    Broker(AlterBrokerConfigs),
}

/// Config changes planned per resource (`Ok(None)`: valid, nothing to apply): the topic ones
/// proposed together as one `AlterTopicConfigs`, each broker one as its own command; one
/// outcome per resource.
pub async fn alter_configs(
    ctx: &BrokerContext,
    planned: Vec<ItemOutcome<Option<ConfigChange>>>,
) -> Vec<ItemOutcome<()>> {
    let mut topic_plans = Vec::with_capacity(planned.len());
    let mut broker_changes = Vec::new();
    for (position, plan) in planned.into_iter().enumerate() {
        topic_plans.push(match plan {
            Ok(Some(ConfigChange::Topic(change))) => Ok(Some(change)),
            Ok(Some(ConfigChange::Broker(change))) => {
                broker_changes.push((position, change));
                Ok(None)
            }
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        });
    }
    let mut outcomes = alter_topic_configs(ctx, topic_plans).await;
    for (position, change) in broker_changes {
        outcomes[position] = crate::broker_configs::propose(ctx, change).await;
    }
    outcomes
}
