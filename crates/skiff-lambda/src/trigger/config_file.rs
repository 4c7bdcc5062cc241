//! Several triggers in one TOML file (`skiff trigger --config`, `skiff dev --trigger-config`):
//!
//! ```toml
//! # Defaults for every trigger below; each may set its own.
//! bootstrap = "127.0.0.1:9092"
//! lambda_endpoint = "http://127.0.0.1:9000"
//! region = "us-east-1"
//!
//! [[trigger]]
//! topics = ["orders"]
//! group = "orders-fn"
//! function_name = "orders"
//! batch_size = 500
//! report_batch_item_failures = true
//! on_failure_topic = "orders-failed"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::settings::{Naming, SettingsError, TriggerSettings, TriggerSpec};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerFile {
    bootstrap: Option<String>,
    lambda_endpoint: Option<String>,
    region: Option<String>,
    #[serde(default)]
    kafka_properties: BTreeMap<String, String>,
    #[serde(default)]
    trigger: Vec<TriggerSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read trigger file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("trigger file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("trigger file {path} has no [[trigger]] sections")]
    Empty { path: PathBuf },
    #[error("trigger file {path}, trigger {number}: {source}")]
    Invalid {
        path: PathBuf,
        number: usize,
        source: SettingsError,
    },
    #[error(
        "trigger file {path}: triggers {first} and {second} both use group {group:?}; each trigger needs a group of its own"
    )]
    SharedGroup {
        path: PathBuf,
        group: String,
        first: usize,
        second: usize,
    },
}

/// Reads and validates every trigger of `path`. A setting comes from the trigger's own section,
/// else from `given` (flags), else from the file's top level, else from `fallback` (built-in
/// defaults, or `skiff dev`'s own Kafka address).
pub fn load(
    path: &Path,
    given: &TriggerSpec,
    fallback: &TriggerSpec,
) -> Result<Vec<TriggerSettings>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text, given, fallback)
}

fn parse(
    path: &Path,
    text: &str,
    given: &TriggerSpec,
    fallback: &TriggerSpec,
) -> Result<Vec<TriggerSettings>, ConfigFileError> {
    let file: TriggerFile = toml::from_str(text).map_err(|e| ConfigFileError::Parse {
        path: path.to_owned(),
        message: e.message().to_owned()
            + &e.span()
                .map(|span| format!(" (at byte {})", span.start))
                .unwrap_or_default(),
    })?;
    if file.trigger.is_empty() {
        return Err(ConfigFileError::Empty {
            path: path.to_owned(),
        });
    }
    let file_top = TriggerSpec {
        bootstrap: file.bootstrap,
        lambda_endpoint: file.lambda_endpoint,
        region: file.region,
        kafka_properties: file.kafka_properties,
        ..TriggerSpec::default()
    };
    let file_defaults = given
        .clone()
        .with_defaults(&file_top)
        .with_defaults(fallback);
    let mut out: Vec<TriggerSettings> = Vec::with_capacity(file.trigger.len());
    for (index, spec) in file.trigger.into_iter().enumerate() {
        let number = index + 1;
        let settings = spec
            .with_defaults(&file_defaults)
            .validate(Naming::File)
            .map_err(|source| ConfigFileError::Invalid {
                path: path.to_owned(),
                number,
                source,
            })?;
        if let Some(first) = out.iter().position(|s| s.group == settings.group) {
            return Err(ConfigFileError::SharedGroup {
                path: path.to_owned(),
                group: settings.group,
                first: first + 1,
                second: number,
            });
        }
        out.push(settings);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        path: &Path,
        text: &str,
        fallback: &TriggerSpec,
    ) -> Result<Vec<TriggerSettings>, ConfigFileError> {
        super::parse(path, text, &TriggerSpec::default(), fallback)
    }

    fn defaults() -> TriggerSpec {
        TriggerSpec {
            bootstrap: Some("127.0.0.1:9092".into()),
            ..TriggerSpec::default()
        }
    }

    #[test]
    fn flags_win_over_the_files_top_level_and_lose_to_a_triggers_own() {
        let given = TriggerSpec {
            region: Some("flag-region".into()),
            lambda_endpoint: Some("http://flag".into()),
            ..TriggerSpec::default()
        };
        let triggers = super::parse(
            Path::new("t.toml"),
            "region = \"file-region\"\nlambda_endpoint = \"http://file\"\n\
             [[trigger]]\ntopics=[\"a\"]\ngroup=\"g\"\nfunction_name=\"f\"\nlambda_endpoint=\"http://own\"\n",
            &given,
            &defaults(),
        )
        .unwrap();
        assert_eq!(triggers[0].region.as_deref(), Some("flag-region"));
        assert_eq!(triggers[0].lambda_endpoint.as_deref(), Some("http://own"));
        assert_eq!(triggers[0].bootstrap, "127.0.0.1:9092");
    }

    #[test]
    fn several_triggers_with_shared_defaults() {
        let triggers = parse(
            Path::new("t.toml"),
            r#"
            lambda_endpoint = "http://127.0.0.1:9000"
            region = "us-east-1"
            [kafka_properties]
            "session.timeout.ms" = "6000"

            [[trigger]]
            topics = ["orders"]
            group = "orders-fn"
            function_name = "orders"
            batch_size = 500
            report_batch_item_failures = true
            on_failure_topic = "orders-failed"

            [[trigger]]
            topics = ["a", "b"]
            group = "ab"
            function_name = "arn:aws:lambda:us-east-1:123456789012:function:ab"
            bootstrap = "10.0.0.1:9092"
            maximum_retry_attempts = 2
            "#,
            &defaults(),
        )
        .unwrap();
        assert_eq!(triggers.len(), 2);
        assert_eq!(triggers[0].bootstrap, "127.0.0.1:9092");
        assert_eq!(triggers[0].batch_size, 500);
        assert_eq!(triggers[0].maximum_retry_attempts, Some(10));
        assert_eq!(
            triggers[0].lambda_endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(triggers[1].bootstrap, "10.0.0.1:9092");
        assert_eq!(triggers[1].topics, ["a", "b"]);
        assert_eq!(triggers[1].kafka_properties["session.timeout.ms"], "6000");
    }

    #[test]
    fn errors_say_which_trigger_and_setting() {
        let err = parse(
            Path::new("t.toml"),
            "[[trigger]]\ntopics=[\"a\"]\ngroup=\"g\"\nfunction_name=\"f\"\n\
             [[trigger]]\ntopics=[\"b\"]\ngroup=\"h\"\nfunction_name=\"f\"\nbatch_size=0\n",
            &defaults(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "trigger file t.toml, trigger 2: batch_size must be between 1 and 10000 records, not 0"
        );
        let err = parse(
            Path::new("t.toml"),
            "[[trigger]]\nbatch_sise = 3\n",
            &defaults(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("trigger file t.toml is not valid: unknown field `batch_sise`"),
            "{err}"
        );
        let err = parse(Path::new("t.toml"), "region = \"x\"\n", &defaults())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "trigger file t.toml has no [[trigger]] sections");
        let err = parse(
            Path::new("t.toml"),
            "[[trigger]]\ntopics=[\"a\"]\ngroup=\"g\"\nfunction_name=\"f\"\n\
             [[trigger]]\ntopics=[\"b\"]\ngroup=\"g\"\nfunction_name=\"f\"\n",
            &defaults(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("triggers 1 and 2 both use group \"g\""),
            "{err}"
        );
    }
}
