use std::error::Error as StdError;

use object_store::client::{HttpError, HttpErrorKind};
use object_store::path::Path;

use super::ops::OpKind;
use crate::error::StorageError;

/// Turns an object_store error into ours, deciding whether a retry could help.
pub(crate) fn classify(op: OpKind, path: &Path, err: object_store::Error) -> StorageError {
    let path_text = path.to_string();
    match &err {
        object_store::Error::NotFound { .. } => {
            return StorageError::NotFound { path: path_text };
        }
        object_store::Error::AlreadyExists { .. } => {
            return StorageError::AlreadyExists { path: path_text };
        }
        // Some S3-compatible stores answer a failed `If-None-Match: *` with 412.
        object_store::Error::Precondition { .. } if op == OpKind::Put => {
            return StorageError::AlreadyExists { path: path_text };
        }
        _ => {}
    }
    let reason = err.to_string();
    if is_transient(&err) {
        StorageError::Unavailable {
            operation: op.as_str(),
            path: path_text,
            reason,
        }
    } else {
        StorageError::Other {
            operation: op.as_str(),
            path: path_text,
            reason,
        }
    }
}

/// Walks the source chain for a network failure, a timeout, or a throttling/5xx answer.
fn is_transient(err: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(http) = err.downcast_ref::<HttpError>() {
            return matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            );
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            if matches!(
                io.kind(),
                ErrorKind::TimedOut
                    | ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
                    | ErrorKind::BrokenPipe
                    | ErrorKind::Interrupted
            ) {
                return true;
            }
        }
        // object_store 0.14 keeps its RetryError type private, so the HTTP status of a failed
        // request is only visible in its message.
        if let Some(status) = http_status_in_message(&err.to_string()) {
            return status >= 500 || status == 429 || status == 408;
        }
        current = err.source();
    }
    false
}

fn http_status_in_message(message: &str) -> Option<u16> {
    const MARKER: &str = "status code: ";
    let start = message.find(MARKER)? + MARKER.len();
    let digits = message.get(start..start + 3)?;
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(message: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: message.to_string().into(),
        }
    }

    #[test]
    fn server_errors_and_throttling_are_retriable() {
        let path = Path::from("a/b");
        for message in [
            "Error performing GET http://x in 1s - Server returned non-2xx status code: 503 Service Unavailable: slow down",
            "Server returned non-2xx status code: 500 Internal Server Error: ",
            "Server returned non-2xx status code: 429 Too Many Requests: ",
        ] {
            let err = classify(OpKind::GetRange, &path, generic(message));
            assert!(err.is_retriable(), "{message} gave {err}");
        }
    }

    #[test]
    fn client_errors_are_not_retriable() {
        let path = Path::from("a/b");
        let err = classify(
            OpKind::GetRange,
            &path,
            generic("Server returned non-2xx status code: 400 Bad Request: nope"),
        );
        assert!(matches!(err, StorageError::Other { .. }), "{err}");
        assert!(!err.is_retriable());
    }

    #[test]
    fn not_found_and_conflicts_map_to_their_variants() {
        let path = Path::from("a/b");
        let not_found = object_store::Error::NotFound {
            path: "a/b".into(),
            source: "missing".into(),
        };
        assert!(matches!(
            classify(OpKind::GetRange, &path, not_found),
            StorageError::NotFound { path } if path == "a/b"
        ));
        let precondition = object_store::Error::Precondition {
            path: "a/b".into(),
            source: "412".into(),
        };
        assert!(matches!(
            classify(OpKind::Put, &path, precondition),
            StorageError::AlreadyExists { .. }
        ));
    }

    #[test]
    fn connection_failures_found_deep_in_the_chain_are_retriable() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(HttpErrorKind::Connect, io)),
        };
        assert!(classify(OpKind::List, &Path::from("x"), err).is_retriable());
    }
}
