//! Invoking the function through Lambda's Invoke API (`aws-sdk-lambda`: SigV4, region,
//! credential chain, endpoint override), and sorting what came back into what the trigger does
//! next.

use std::future::Future;
use std::time::Duration;

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{ProvideCredentials, Region};
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use tracing::info;

use super::error::TriggerError;
use super::settings::TriggerSettings;

/// Lambda stops event source mapping invocations after 14 minutes; a little more covers the
/// answer's way back.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The region signed for when none is configured and the endpoint is a local emulator.
const LOCAL_REGION: &str = "us-east-1";

/// What one invocation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function ran and returned; `body` is its answer.
    Returned { body: Vec<u8> },
    /// The invocation counts as a failed attempt: the function raised an error
    /// (`X-Amz-Function-Error`), Lambda throttled it or failed (5xx), or it timed out.
    Failed { kind: &'static str, message: String },
    /// The function could not be invoked at all (unknown function, endpoint unreachable,
    /// access denied). Not an attempt of the records: the trigger waits and tries again,
    /// without giving up on them.
    Unavailable { kind: &'static str, message: String },
    /// Lambda refused the payload as too large.
    TooLarge { message: String },
}

/// Something that runs the function; the trigger's tests put their own here.
pub trait Invoke: Send + Sync + 'static {
    fn invoke(&self, payload: Vec<u8>) -> impl Future<Output = InvokeOutcome> + Send;
    /// The function as the user named it, for logs and failure headers.
    fn function_name(&self) -> &str;
}

/// The real thing: Lambda's Invoke API.
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
    function_name: String,
}

impl LambdaInvoker {
    /// Builds the client from the AWS configuration chain (environment, profiles) and checks
    /// that there are credentials to sign with.
    pub async fn connect(settings: &TriggerSettings) -> Result<LambdaInvoker, TriggerError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_lambda::config::Builder::from(&shared)
            // Retries are the trigger's: it counts attempts, backs off and bisects itself.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(INVOKE_TIMEOUT)
                    .build(),
            );
        if let Some(endpoint) = &settings.lambda_endpoint {
            config = config.endpoint_url(endpoint.clone());
            if shared.region().is_none() {
                config = config.region(Region::new(LOCAL_REGION));
            }
        } else if shared.region().is_none() {
            return Err(TriggerError::NoRegion {
                group: settings.group.clone(),
            });
        }
        let Some(credentials) = shared.credentials_provider() else {
            return Err(TriggerError::NoCredentials {
                group: settings.group.clone(),
                reason: "no credential provider is configured".to_owned(),
            });
        };
        if let Err(e) = credentials.provide_credentials().await {
            return Err(TriggerError::NoCredentials {
                group: settings.group.clone(),
                reason: DisplayErrorContext(&e).to_string(),
            });
        }
        let config = config.build();
        info!(
            group = %settings.group,
            function = %settings.function_name,
            endpoint = settings.lambda_endpoint.as_deref().unwrap_or("AWS"),
            region = config.region().map_or("?", |r| r.as_ref()),
            "invoking through Lambda's Invoke API"
        );
        Ok(LambdaInvoker {
            client: aws_sdk_lambda::Client::from_conf(config),
            function_name: settings.function_name.clone(),
        })
    }
}

impl Invoke for LambdaInvoker {
    async fn invoke(&self, payload: Vec<u8>) -> InvokeOutcome {
        let sent = self
            .client
            .invoke()
            .function_name(&self.function_name)
            .payload(Blob::new(payload))
            .send()
            .await;
        match sent {
            Ok(output) => {
                let body = output.payload.map(Blob::into_inner).unwrap_or_default();
                match output.function_error {
                    Some(kind) => InvokeOutcome::Failed {
                        kind: "function_error",
                        message: format!("{kind}: {}", answer_excerpt(&body)),
                    },
                    None => InvokeOutcome::Returned { body },
                }
            }
            Err(err) => classify_error(err),
        }
    }

    fn function_name(&self) -> &str {
        &self.function_name
    }
}

fn classify_error(err: SdkError<InvokeError>) -> InvokeOutcome {
    match err {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let error = context.err();
            let message = format!(
                "{} (HTTP {status}){}",
                error.code().unwrap_or("error"),
                error
                    .message()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            );
            match error {
                InvokeError::ResourceNotFoundException(_) => InvokeOutcome::Unavailable {
                    kind: "not_found",
                    message,
                },
                InvokeError::TooManyRequestsException(_)
                | InvokeError::Ec2ThrottledException(_) => InvokeOutcome::Failed {
                    kind: "throttled",
                    message,
                },
                InvokeError::RequestTooLargeException(_)
                | InvokeError::SerializedRequestEntityTooLargeException(_) => {
                    InvokeOutcome::TooLarge { message }
                }
                _ if status == 429 => InvokeOutcome::Failed {
                    kind: "throttled",
                    message,
                },
                _ if status == 404 => InvokeOutcome::Unavailable {
                    kind: "not_found",
                    message,
                },
                _ if status == 413 => InvokeOutcome::TooLarge { message },
                _ if status >= 500 => InvokeOutcome::Failed {
                    kind: "service_error",
                    message,
                },
                // 401/403 and other refusals: fixing them takes a person, not a retry count.
                _ => InvokeOutcome::Unavailable {
                    kind: "denied",
                    message,
                },
            }
        }
        SdkError::TimeoutError(_) => InvokeOutcome::Failed {
            kind: "timeout",
            message: format!("no answer within {} s", INVOKE_TIMEOUT.as_secs()),
        },
        SdkError::ResponseError(_) => InvokeOutcome::Failed {
            kind: "bad_answer",
            message: DisplayErrorContext(&err).to_string(),
        },
        other => InvokeOutcome::Unavailable {
            kind: "unreachable",
            message: DisplayErrorContext(&other).to_string(),
        },
    }
}

/// The start of a function's answer, for logs and failure headers.
pub fn answer_excerpt(body: &[u8]) -> String {
    const LIMIT: usize = 1024;
    let text = String::from_utf8_lossy(&body[..body.len().min(LIMIT)]).into_owned();
    if body.len() > LIMIT {
        format!("{text}…")
    } else {
        text
    }
}
