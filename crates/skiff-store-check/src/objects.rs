//! Checks that write, overwrite, read, list and delete one probe object under the prefix:
//! what Skiff's brokers and controllers do to segments, with the same guarantees asked for.

use aws_sdk_s3::primitives::ByteStream;

use crate::client::{describe, http_status};
use crate::report::{Finding, Risk};
use crate::target::S3Target;

const PROBE_BODY: &[u8] = b"skiff store check probe: safe to delete\n";
const OVERWRITE_BODY: &[u8] = b"skiff store check: this body must never replace the first\n";

/// Runs the object checks and appends their findings. Returns false when the bucket cannot be
/// reached at all (the bucket-settings checks would only repeat that).
pub(crate) async fn check(
    client: &aws_sdk_s3::Client,
    target: &S3Target,
    findings: &mut Vec<Finding>,
) -> bool {
    let bucket = target.bucket.as_str();
    if let Err(err) = client.head_bucket().bucket(bucket).send().await {
        let detail = match http_status(&err) {
            Some(404) => format!("bucket {bucket} does not exist"),
            _ => format!("bucket {bucket} does not answer: {}", describe(&err)),
        };
        findings.push(Finding::fail("bucket", Risk::Unusable, detail));
        return false;
    }
    findings.push(Finding::pass("bucket", format!("bucket {bucket} answers")));

    // Outside segments/, which the controllers' garbage collection lists.
    let key = format!(
        "{}.skiff-store-check/{}",
        target.key_prefix(),
        ulid::Ulid::new()
    );
    let written = client
        .put_object()
        .bucket(bucket)
        .key(&key)
        .if_none_match("*")
        .body(ByteStream::from_static(PROBE_BODY))
        .send()
        .await;
    if let Err(err) = written {
        findings.push(Finding::fail(
            "write",
            Risk::Unusable,
            format!(
                "cannot create {key}: {} (brokers need s3:PutObject under {})",
                describe(&err),
                target.key_prefix()
            ),
        ));
        return true;
    }
    findings.push(Finding::pass("write", format!("created {key}")));

    findings.push(create_only(client, bucket, &key).await);
    findings.push(read_back(client, bucket, &key).await);
    findings.push(list(client, target, &key).await);
    findings.push(delete(client, bucket, &key).await);
    true
}

/// Segments are written with `If-None-Match: *`, so two writers can never replace each other's
/// object. A store that ignores the header would let that happen silently.
async fn create_only(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Finding {
    const CHECK: &str = "create-only-put";
    let second = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .if_none_match("*")
        .body(ByteStream::from_static(OVERWRITE_BODY))
        .send()
        .await;
    match second {
        Err(err) if http_status(&err) == Some(412) => Finding::pass(
            CHECK,
            "a second PUT with If-None-Match: * was refused with 412 Precondition Failed",
        ),
        Err(err) => Finding::fail(
            CHECK,
            Risk::DataLoss,
            format!(
                "a second PUT with If-None-Match: * failed with {} instead of 412 Precondition Failed: \
                 this store does not support create-only writes, which Skiff relies on so that no \
                 segment is ever overwritten",
                describe(&err)
            ),
        ),
        Ok(_) => Finding::fail(
            CHECK,
            Risk::DataLoss,
            "a second PUT with If-None-Match: * replaced the object: this store ignores create-only \
             writes, so a segment could be overwritten and acknowledged records lost",
        ),
    }
}

async fn read_back(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Finding {
    const CHECK: &str = "read";
    let response = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(response) => response,
        Err(err) => {
            return Finding::fail(
                CHECK,
                Risk::Unusable,
                format!(
                    "cannot read {key}: {} (brokers need s3:GetObject)",
                    describe(&err)
                ),
            );
        }
    };
    match response.body.collect().await.map(|body| body.to_vec()) {
        Ok(body) if body == PROBE_BODY => Finding::pass(CHECK, "read back the bytes written"),
        Ok(body) if body == OVERWRITE_BODY => Finding::fail(
            CHECK,
            Risk::DataLoss,
            "read back the second PUT's bytes: the create-only PUT overwrote the object",
        ),
        Ok(_) => Finding::fail(
            CHECK,
            Risk::Unusable,
            format!("{key} came back with other bytes than were written"),
        ),
        Err(err) => Finding::fail(
            CHECK,
            Risk::Unusable,
            format!("reading {key} broke off: {err}"),
        ),
    }
}

/// The controllers' garbage collection lists the prefix; brokers probe with HEAD, which answers
/// 404 for a missing key only to callers allowed to list.
async fn list(client: &aws_sdk_s3::Client, target: &S3Target, key: &str) -> Finding {
    const CHECK: &str = "list";
    let dir = key.rsplit_once('/').map(|(dir, _)| dir).unwrap_or(key);
    let listed = client
        .list_objects_v2()
        .bucket(&target.bucket)
        .prefix(format!("{dir}/"))
        .send()
        .await;
    match listed {
        Ok(page) if page.contents().iter().any(|o| o.key() == Some(key)) => {
            Finding::pass(CHECK, format!("listing {dir}/ shows the object written"))
        }
        Ok(_) => Finding::fail(
            CHECK,
            Risk::Unusable,
            format!("listing {dir}/ does not show {key}, which was just written"),
        ),
        Err(err) => Finding::fail(
            CHECK,
            Risk::Unusable,
            format!(
                "cannot list {dir}/: {} (Skiff needs s3:ListBucket for keys under {})",
                describe(&err),
                target.key_prefix()
            ),
        ),
    }
}

/// Only the controllers delete (garbage collection of objects no index entry references); a
/// store that refuses loses nothing, it only keeps what it should not.
async fn delete(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Finding {
    const CHECK: &str = "delete";
    if let Err(err) = client.delete_object().bucket(bucket).key(key).send().await {
        return Finding::warn(
            CHECK,
            format!(
                "cannot delete {key}: {}; the controllers' garbage collection needs s3:DeleteObject \
                 (nothing is lost without it, but unreferenced segments stay and cost storage; \
                 the probe object is left behind)",
                describe(&err)
            ),
        );
    }
    match client.head_object().bucket(bucket).key(key).send().await {
        Err(err) if http_status(&err) == Some(404) => {
            Finding::pass(CHECK, "deleted the probe object")
        }
        Err(err) => Finding::warn(
            CHECK,
            format!(
                "deleted {key}, but asking for it afterwards failed with {}",
                describe(&err)
            ),
        ),
        Ok(_) => Finding::warn(
            CHECK,
            format!("DELETE of {key} succeeded but the object is still there"),
        ),
    }
}
