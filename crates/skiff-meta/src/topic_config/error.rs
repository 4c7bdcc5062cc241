//! Why a topic config change was refused: the key and what is wrong with its value, as data.
//! The message is written from the config table when shown, so it names the allowed values.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::table::{ConfigProblem, config_def};

/// A refused topic config key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    pub key: String,
    pub problem: ConfigProblem,
}

impl ConfigError {
    pub fn new(key: &str, problem: ConfigProblem) -> Self {
        ConfigError {
            key: key.to_string(),
            problem,
        }
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let def = config_def(&self.key);
        let allowed = || def.map_or(String::new(), |d| d.allowed_values().join(", "));
        write!(f, "{}: ", self.key)?;
        match &self.problem {
            ConfigProblem::UnknownKey => write!(f, "unknown topic config"),
            ConfigProblem::NotAWholeNumber { value } => {
                write!(f, "'{value}' is not a whole number")
            }
            ConfigProblem::NotAnInt32 { value } => {
                write!(f, "'{value}' is not a 32-bit whole number")
            }
            ConfigProblem::NotABoolean { value } => write!(f, "'{value}' is not true or false"),
            ConfigProblem::NotANumber { value } => write!(f, "'{value}' is not a number"),
            ConfigProblem::BelowMinimum { value, min } => {
                write!(f, "{value} is below the minimum {min}")
            }
            ConfigProblem::OutsideRange { value } => match def.and_then(|d| d.range()) {
                Some((lo, hi)) => write!(f, "{value} is outside [{lo}, {hi}]"),
                None => write!(f, "{value} is out of range"),
            },
            ConfigProblem::NotOneOf { value } => {
                write!(f, "'{value}' is not one of {}", allowed())
            }
            ConfigProblem::EmptyList => write!(f, "must name at least one of {}", allowed()),
            ConfigProblem::NotAPartitionBrokerPair { item } => {
                write!(f, "'{item}' is not '*' or a partition:broker pair")
            }
            ConfigProblem::BothSetAndDeleted => write!(f, "both set and deleted in one change"),
            ConfigProblem::AboveMaxCompactionLag { min, max } => write!(
                f,
                "{min} is above max.compaction.lag.ms ({max}): records would be due for \
                 compaction before they may be compacted"
            ),
        }
    }
}
