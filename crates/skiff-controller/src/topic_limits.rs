//! The cluster's limits on topics, applied to a topic command before it is proposed: topics
//! that would break a limit are taken out, the rest is proposed, and their refusals are put
//! back in the answer in the request's order. The leader checks and proposes one topic command
//! at a time (see `Controller::submit_indexed`), so two requests cannot both fit in the room
//! that is left for one.

use skiff_meta::state::ClusterLimits;
use skiff_meta::{
    Command, CommandResponse, ControllerState, CreatePartitions, CreateTopics, LimitError,
    ProposeError, TopicError,
};

/// Whether `command` creates or grows topics, and so must go through [`within_limits`].
pub(crate) fn is_topic_change(command: &Command) -> bool {
    matches!(
        command,
        Command::CreateTopics(_) | Command::CreatePartitions(_)
    )
}

/// A command with what the limits refused taken out of it.
pub(crate) struct Limited {
    /// What is left to propose; `None` when the limits refused all of it.
    pub(crate) propose: Option<Command>,
    shape: Shape,
    /// One per item of the original command: its refusal, or `None` for items proposed.
    refusals: Vec<Option<LimitError>>,
}

enum Shape {
    Topics,
    Partitions,
    Unlimited,
}

pub(crate) fn within_limits(
    state: &ControllerState,
    command: Command,
    limits: &ClusterLimits,
) -> Limited {
    match command {
        Command::CreateTopics(create) => {
            let refusals = state.check_create_limits(&create, limits);
            let kept = keep_allowed(create.0, &refusals);
            Limited {
                propose: (!kept.is_empty()).then(|| Command::CreateTopics(CreateTopics(kept))),
                shape: Shape::Topics,
                refusals,
            }
        }
        Command::CreatePartitions(grow) => {
            let refusals = state.check_growth_limits(&grow, limits);
            let kept = keep_allowed(grow.0, &refusals);
            Limited {
                propose: (!kept.is_empty())
                    .then(|| Command::CreatePartitions(CreatePartitions(kept))),
                shape: Shape::Partitions,
                refusals,
            }
        }
        command => Limited {
            propose: Some(command),
            shape: Shape::Unlimited,
            refusals: Vec::new(),
        },
    }
}

fn keep_allowed<T>(items: Vec<T>, refusals: &[Option<LimitError>]) -> Vec<T> {
    items
        .into_iter()
        .zip(refusals)
        .filter_map(|(item, refusal)| refusal.is_none().then_some(item))
        .collect()
}

impl Limited {
    /// The answer to the original command, from the answer to what was proposed (`None` when
    /// nothing was).
    pub(crate) fn answer(
        self,
        proposed: Option<CommandResponse>,
    ) -> Result<CommandResponse, ProposeError> {
        match (self.shape, proposed) {
            (Shape::Unlimited, Some(answer)) => Ok(answer),
            (Shape::Unlimited, None) => Err(unexpected("a command", None)),
            (Shape::Topics, None) => Ok(CommandResponse::TopicsCreated(merge(
                self.refusals,
                Vec::new(),
            )?)),
            (Shape::Topics, Some(CommandResponse::TopicsCreated(answers))) => Ok(
                CommandResponse::TopicsCreated(merge(self.refusals, answers)?),
            ),
            (Shape::Partitions, None) => Ok(CommandResponse::PartitionsCreated(merge(
                self.refusals,
                Vec::new(),
            )?)),
            (Shape::Partitions, Some(CommandResponse::PartitionsCreated(answers))) => Ok(
                CommandResponse::PartitionsCreated(merge(self.refusals, answers)?),
            ),
            (Shape::Topics, Some(other)) => Err(unexpected("CreateTopics", Some(&other))),
            (Shape::Partitions, Some(other)) => Err(unexpected("CreatePartitions", Some(&other))),
        }
    }
}

/// The refusals in their places, and the answers to what was proposed in the others.
fn merge<T>(
    refusals: Vec<Option<LimitError>>,
    answers: Vec<Result<T, TopicError>>,
) -> Result<Vec<Result<T, TopicError>>, ProposeError> {
    let mut answers = answers.into_iter();
    let merged = refusals
        .into_iter()
        .map(|refusal| match refusal {
            Some(refusal) => Some(Err(TopicError::from(refusal))),
            None => answers.next(),
        })
        .collect::<Option<Vec<_>>>();
    match merged {
        Some(merged) if answers.next().is_none() => Ok(merged),
        _ => Err(ProposeError::UnexpectedAnswer {
            command: "a topic command".into(),
            answer: "a different number of answers than topics proposed".into(),
        }),
    }
}

fn unexpected(command: &str, answer: Option<&CommandResponse>) -> ProposeError {
    ProposeError::UnexpectedAnswer {
        command: command.into(),
        answer: answer.map_or("nothing", CommandResponse::kind).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_meta::{NewTopic, TopicId};

    fn topic(name: &str, partitions: u32) -> NewTopic {
        NewTopic {
            name: name.into(),
            id: TopicId::new_v4(),
            partitions,
            configs: Default::default(),
            created_ms: 0,
        }
    }

    #[test]
    fn refused_topics_are_left_out_and_put_back_in_their_places() {
        let state = ControllerState::default();
        let limits = ClusterLimits {
            max_partitions: 5,
            max_topics_per_request: 10,
        };
        let create = CreateTopics(vec![topic("a", 3), topic("b", 3), topic("c", 2)]);
        let limited = within_limits(&state, Command::CreateTopics(create), &limits);
        let Some(Command::CreateTopics(proposed)) = &limited.propose else {
            panic!("a and c fit and are proposed");
        };
        let names: Vec<&str> = proposed.0.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        let ids: Vec<TopicId> = proposed.0.iter().map(|t| t.id).collect();
        let answer = CommandResponse::TopicsCreated(vec![Ok(ids[0]), Ok(ids[1])]);
        let CommandResponse::TopicsCreated(merged) = limited.answer(Some(answer)).unwrap() else {
            panic!("the answer keeps its kind");
        };
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0], Ok(ids[0]));
        assert!(matches!(
            merged[1],
            Err(TopicError::OverLimit(LimitError::ClusterPartitions {
                would_hold: 6,
                limit: 5
            }))
        ));
        assert_eq!(merged[2], Ok(ids[1]));
    }

    #[test]
    fn a_command_refused_whole_is_answered_without_a_proposal() {
        let state = ControllerState::default();
        let limits = ClusterLimits {
            max_partitions: 100,
            max_topics_per_request: 1,
        };
        let create = CreateTopics(vec![topic("a", 1), topic("b", 1)]);
        let limited = within_limits(&state, Command::CreateTopics(create), &limits);
        assert!(limited.propose.is_none());
        let CommandResponse::TopicsCreated(merged) = limited.answer(None).unwrap() else {
            panic!("the answer keeps its kind");
        };
        assert!(merged.iter().all(|answer| matches!(
            answer,
            Err(TopicError::OverLimit(LimitError::TooManyTopicsInRequest {
                count: 2,
                limit: 1
            }))
        )));
    }

    #[test]
    fn an_answer_with_the_wrong_number_of_items_is_an_error() {
        let state = ControllerState::default();
        let limited = within_limits(
            &state,
            Command::CreateTopics(CreateTopics(vec![topic("a", 1)])),
            &ClusterLimits::default(),
        );
        let answer = CommandResponse::TopicsCreated(Vec::new());
        assert!(matches!(
            limited.answer(Some(answer)),
            Err(ProposeError::UnexpectedAnswer { .. })
        ));
    }
}
