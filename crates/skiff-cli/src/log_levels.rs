//! The process's log filter as Kafka loggers, for BROKER_LOGGER configs: a reloadable
//! `EnvFilter` rebuilt from a root level, per-target levels, and whatever other directives the
//! command line gave (span or field filters), which are kept as they were.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use skiff_broker::log_levels::{
    LogLevelError, LogLevels, LoggerChange, LoggerLevel, ROOT_LOGGER, is_logger_name,
};
use tracing_subscriber::{EnvFilter, Registry, reload};

static PROCESS: OnceLock<Arc<ProcessLogLevels>> = OnceLock::new();

/// The log filter `main` installed, for a broker to hand to BROKER_LOGGER requests.
pub fn process_log_levels() -> Option<Arc<dyn LogLevels>> {
    PROCESS
        .get()
        .map(|levels| levels.clone() as Arc<dyn LogLevels>)
}

/// Makes the subscriber's filter, built from `directives`, changeable through
/// [`process_log_levels`]. Called once, by `main`.
pub fn install(directives: &str, handle: reload::Handle<EnvFilter, Registry>) {
    let levels = ProcessLogLevels {
        handle,
        directives: Mutex::new(Directives::parse(directives)),
    };
    // A second call would be a bug in main; the first filter stays in charge.
    let _ = PROCESS.set(Arc::new(levels));
}

struct ProcessLogLevels {
    handle: reload::Handle<EnvFilter, Registry>,
    /// What the filter in force was built from. A std mutex: held only to rebuild.
    directives: Mutex<Directives>,
}

impl LogLevels for ProcessLogLevels {
    fn loggers(&self) -> Vec<(String, LoggerLevel)> {
        let directives = self
            .directives
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        std::iter::once((ROOT_LOGGER.to_owned(), directives.root))
            .chain(directives.loggers.iter().map(|(k, v)| (k.clone(), *v)))
            .collect()
    }

    fn apply(&self, changes: &[LoggerChange]) -> Result<(), LogLevelError> {
        let mut current = self
            .directives
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = current.clone();
        next.apply(changes)?;
        let filter = EnvFilter::builder()
            .parse(next.render())
            .map_err(|error| LogLevelError::Reload(error.to_string()))?;
        self.handle
            .reload(filter)
            .map_err(|error| LogLevelError::Reload(error.to_string()))?;
        *current = next;
        Ok(())
    }
}

/// An `EnvFilter` directive string, split into what BROKER_LOGGER can show and change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Directives {
    /// The bare level; without one, `EnvFilter` enables nothing a directive does not name.
    root: LoggerLevel,
    loggers: BTreeMap<String, LoggerLevel>,
    /// Directives with spans, fields or no level, kept verbatim.
    other: Vec<String>,
}

impl Directives {
    fn parse(text: &str) -> Directives {
        let mut directives = Directives {
            root: LoggerLevel::Off,
            loggers: BTreeMap::new(),
            other: Vec::new(),
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                None => match LoggerLevel::parse(part) {
                    Some(level) => directives.root = level,
                    None => directives.other.push(part.to_owned()),
                },
                Some((target, level)) => {
                    match (is_logger_name(target), LoggerLevel::parse(level)) {
                        (true, Some(level)) if target != ROOT_LOGGER => {
                            directives.loggers.insert(target.to_owned(), level);
                        }
                        _ => directives.other.push(part.to_owned()),
                    }
                }
            }
        }
        directives
    }

    fn apply(&mut self, changes: &[LoggerChange]) -> Result<(), LogLevelError> {
        for (logger, level) in changes {
            match (logger.as_str(), level) {
                (ROOT_LOGGER, Some(level)) => self.root = *level,
                (ROOT_LOGGER, None) => return Err(LogLevelError::RootRemoved),
                (_, Some(level)) => {
                    self.loggers.insert(logger.clone(), *level);
                }
                (_, None) => {
                    self.loggers.remove(logger);
                }
            }
        }
        Ok(())
    }

    fn render(&self) -> String {
        std::iter::once(directive_level(self.root).to_owned())
            .chain(
                self.loggers
                    .iter()
                    .map(|(target, level)| format!("{target}={}", directive_level(*level))),
            )
            .chain(self.other.iter().cloned())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn directive_level(level: LoggerLevel) -> &'static str {
    match level {
        LoggerLevel::Off => "off",
        LoggerLevel::Error => "error",
        LoggerLevel::Warn => "warn",
        LoggerLevel::Info => "info",
        LoggerLevel::Debug => "debug",
        LoggerLevel::Trace => "trace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filters_split_into_root_and_loggers() {
        let parsed = Directives::parse("info,openraft=warn,foyer=warn");
        assert_eq!(parsed.root, LoggerLevel::Info);
        assert_eq!(
            parsed.loggers.into_iter().collect::<Vec<_>>(),
            vec![
                ("foyer".to_owned(), LoggerLevel::Warn),
                ("openraft".to_owned(), LoggerLevel::Warn),
            ]
        );
        assert!(parsed.other.is_empty());
    }

    #[test]
    fn directives_with_spans_or_no_level_are_kept_as_they_were() {
        let text = "skiff_broker[fetch{topic=a}]=trace,h2,debug";
        let parsed = Directives::parse(text);
        assert_eq!(parsed.root, LoggerLevel::Debug);
        assert_eq!(parsed.other, ["skiff_broker[fetch{topic=a}]=trace", "h2"]);
        EnvFilter::builder()
            .parse(parsed.render())
            .expect("the rebuilt filter parses");
    }

    #[test]
    fn changes_set_and_remove_loggers_and_the_rebuilt_filter_parses() {
        let mut directives = Directives::parse("info,openraft=warn");
        directives
            .apply(&[
                ("skiff_broker::produce".to_owned(), Some(LoggerLevel::Debug)),
                ("openraft".to_owned(), None),
                (ROOT_LOGGER.to_owned(), Some(LoggerLevel::Warn)),
            ])
            .expect("applies");
        assert_eq!(directives.render(), "warn,skiff_broker::produce=debug");
        EnvFilter::builder()
            .parse(directives.render())
            .expect("parses");
        assert_eq!(
            directives.apply(&[(ROOT_LOGGER.to_owned(), None)]),
            Err(LogLevelError::RootRemoved)
        );
    }

    #[test]
    fn a_filter_without_a_bare_level_has_root_off() {
        let parsed = Directives::parse("skiff_broker=debug");
        assert_eq!(parsed.root, LoggerLevel::Off);
        assert_eq!(parsed.render(), "off,skiff_broker=debug");
    }
}
