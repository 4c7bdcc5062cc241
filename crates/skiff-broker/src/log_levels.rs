//! Log levels changed at run time through Kafka's BROKER_LOGGER config resource
//! (DescribeConfigs, IncrementalAlterConfigs), as Kafka's log4j loggers are. A logger here is a
//! `tracing` target: a module path such as `skiff_broker::produce`, which also covers the
//! modules under it. `root` is the level of every target without its own. The process owns its
//! subscriber, so the broker reaches it through [`LogLevels`]; levels live in memory only and a
//! restart goes back to the command line's (as Kafka's do).

use std::fmt;

/// The name Kafka gives the logger every other one inherits from.
pub const ROOT_LOGGER: &str = "root";

/// A level, named as Kafka's tools name log4j's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoggerLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LoggerLevel {
    /// Kafka's level names, any case. log4j's FATAL has no `tracing` level of its own: it is
    /// ERROR here. ALL is TRACE, the most there is.
    pub fn parse(text: &str) -> Option<LoggerLevel> {
        Some(match text.to_ascii_uppercase().as_str() {
            "OFF" => LoggerLevel::Off,
            "FATAL" | "ERROR" => LoggerLevel::Error,
            "WARN" => LoggerLevel::Warn,
            "INFO" => LoggerLevel::Info,
            "DEBUG" => LoggerLevel::Debug,
            "TRACE" | "ALL" => LoggerLevel::Trace,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LoggerLevel::Off => "OFF",
            LoggerLevel::Error => "ERROR",
            LoggerLevel::Warn => "WARN",
            LoggerLevel::Info => "INFO",
            LoggerLevel::Debug => "DEBUG",
            LoggerLevel::Trace => "TRACE",
        }
    }
}

impl fmt::Display for LoggerLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a logger change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogLevelError {
    #[error(
        "logger {0:?} is not a module path (letters, digits, '_' and '::', e.g. skiff_broker::produce) or root"
    )]
    BadLoggerName(String),
    #[error(
        "{value:?} is not a log level for logger {logger}; the levels are OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE and ALL"
    )]
    BadLevel { logger: String, value: String },
    #[error("the root logger's level cannot be removed, only set")]
    RootRemoved,
    #[error("the log filter could not be replaced: {0}")]
    Reload(String),
}

/// One logger's new level: `Some` sets it, `None` removes the logger's own level.
pub type LoggerChange = (String, Option<LoggerLevel>);

/// The process's log filter, as loggers with levels.
pub trait LogLevels: Send + Sync {
    /// `root` first, then every logger with a level of its own, by name.
    fn loggers(&self) -> Vec<(String, LoggerLevel)>;

    /// Applies the changes together: `Some` sets a logger's level, `None` removes it so the
    /// logger follows its parent module (or root) again. Nothing changes if one is refused.
    fn apply(&self, changes: &[LoggerChange]) -> Result<(), LogLevelError>;
}

/// Checks a logger name and a requested value before anything is applied.
pub fn parse_change(logger: &str, value: Option<&str>) -> Result<LoggerChange, LogLevelError> {
    if !is_logger_name(logger) {
        return Err(LogLevelError::BadLoggerName(logger.to_owned()));
    }
    let level = match value {
        Some(text) => Some(
            LoggerLevel::parse(text).ok_or_else(|| LogLevelError::BadLevel {
                logger: logger.to_owned(),
                value: text.to_owned(),
            })?,
        ),
        None if logger == ROOT_LOGGER => return Err(LogLevelError::RootRemoved),
        None => None,
    };
    Ok((logger.to_owned(), level))
}

/// `root`, or a `tracing` target: `::`-separated identifiers. Anything else could change the
/// meaning of the filter directives it is written into.
pub fn is_logger_name(name: &str) -> bool {
    name == ROOT_LOGGER
        || (!name.is_empty()
            && name.split("::").all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !part.starts_with(|c: char| c.is_ascii_digit())
            }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_level_names_parse_in_any_case() {
        assert_eq!(LoggerLevel::parse("debug"), Some(LoggerLevel::Debug));
        assert_eq!(LoggerLevel::parse("FATAL"), Some(LoggerLevel::Error));
        assert_eq!(LoggerLevel::parse("All"), Some(LoggerLevel::Trace));
        assert_eq!(LoggerLevel::parse("verbose"), None);
    }

    #[test]
    fn logger_names_are_module_paths_or_root() {
        for good in [
            "root",
            "skiff_broker",
            "skiff_broker::produce::flusher",
            "h2",
        ] {
            assert!(is_logger_name(good), "{good}");
        }
        for bad in [
            "",
            "a::",
            "::a",
            "a=debug",
            "a,b",
            "a[span]",
            "1abc",
            "kafka.server",
        ] {
            assert!(!is_logger_name(bad), "{bad}");
        }
    }

    #[test]
    fn changes_are_checked_before_they_apply() {
        assert_eq!(
            parse_change("skiff_broker", Some("debug")),
            Ok(("skiff_broker".to_owned(), Some(LoggerLevel::Debug)))
        );
        assert_eq!(
            parse_change("skiff_broker", None),
            Ok(("skiff_broker".to_owned(), None))
        );
        assert_eq!(parse_change("root", None), Err(LogLevelError::RootRemoved));
        assert!(matches!(
            parse_change("skiff_broker", Some("loud")),
            Err(LogLevelError::BadLevel { .. })
        ));
        assert!(matches!(
            parse_change("a=trace", Some("debug")),
            Err(LogLevelError::BadLoggerName(_))
        ));
    }
}
