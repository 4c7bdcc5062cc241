//! Checks of the bucket's settings that object_store cannot read: lifecycle rules (an expiry on
//! Skiff's prefix deletes acknowledged records), versioning and default encryption.

use aws_sdk_s3::types::{
    BucketVersioningStatus, ExpirationStatus, LifecycleRule, ServerSideEncryption,
    TransitionStorageClass,
};

use crate::client::{describe, error_code};
use crate::report::{Finding, Risk};
use crate::target::S3Target;

/// What the lifecycle rules say about noncurrent versions under the prefix (for the
/// versioning check). None when the rules could not be read.
type NoncurrentExpiry = Option<bool>;

pub(crate) async fn check(
    client: &aws_sdk_s3::Client,
    target: &S3Target,
    findings: &mut Vec<Finding>,
) {
    let noncurrent_expiry = lifecycle(client, target, findings).await;
    findings.push(versioning(client, target, noncurrent_expiry).await);
    findings.push(encryption(client, target).await);
}

async fn lifecycle(
    client: &aws_sdk_s3::Client,
    target: &S3Target,
    findings: &mut Vec<Finding>,
) -> NoncurrentExpiry {
    let response = client
        .get_bucket_lifecycle_configuration()
        .bucket(&target.bucket)
        .send()
        .await;
    match response {
        Ok(configuration) => {
            findings.extend(evaluate_rules(configuration.rules(), target));
            Some(
                covering(configuration.rules(), target)
                    .any(|rule| rule.noncurrent_version_expiration().is_some()),
            )
        }
        Err(err) if error_code(&err) == Some("NoSuchLifecycleConfiguration") => {
            findings.extend(evaluate_rules(&[], target));
            Some(false)
        }
        Err(err) => {
            findings.push(Finding::warn(
                "lifecycle",
                format!(
                    "cannot read the lifecycle rules ({}), so cannot tell whether one would expire \
                     objects under {}; grant s3:GetLifecycleConfiguration to check",
                    describe(&err),
                    target.key_prefix()
                ),
            ));
            None
        }
    }
}

/// Enabled rules that can act on Skiff's objects: their prefix overlaps Skiff's, and they ask
/// for no tag (Skiff tags nothing, so a tag filter never matches its objects). Size filters
/// are assumed to match: segments come in every size.
fn covering<'a>(
    rules: &'a [LifecycleRule],
    target: &'a S3Target,
) -> impl Iterator<Item = &'a LifecycleRule> + 'a {
    rules.iter().filter(move |rule| {
        if rule.status() != &ExpirationStatus::Enabled {
            return false;
        }
        let filter = rule.filter();
        let and = filter.and_then(|f| f.and());
        let has_tags =
            filter.is_some_and(|f| f.tag().is_some()) || and.is_some_and(|a| !a.tags().is_empty());
        #[allow(deprecated)] // the legacy rule-level prefix still exists on older buckets
        let prefix = and
            .and_then(|a| a.prefix())
            .or_else(|| filter.and_then(|f| f.prefix()))
            .or(rule.prefix())
            .unwrap_or("");
        !has_tags && target.overlaps(prefix)
    })
}

fn rule_name(rule: &LifecycleRule) -> String {
    match rule.id() {
        Some(id) if !id.is_empty() => format!("rule \"{id}\""),
        _ => "an unnamed rule".to_string(),
    }
}

/// The findings for a bucket's lifecycle rules: any expiry of current objects under the prefix
/// loses data; an archive tier makes objects unreadable; the rest is hygiene.
pub fn evaluate_rules(rules: &[LifecycleRule], target: &S3Target) -> Vec<Finding> {
    let ours = target.key_prefix();
    let mut problems = Vec::new();
    for rule in covering(rules, target) {
        let name = rule_name(rule);
        if let Some(expiration) = rule.expiration() {
            let when = match (expiration.days(), expiration.date()) {
                (Some(days), _) => Some(format!("after {days} days")),
                (None, Some(date)) => Some(format!("on {date}")),
                (None, None) => None, // only ExpiredObjectDeleteMarker: removes no object
            };
            if let Some(when) = when {
                problems.push(Finding::fail(
                    "lifecycle",
                    Risk::DataLoss,
                    format!(
                        "{name} expires objects under {ours} {when}: Skiff deletes its own objects, \
                         and this rule would delete acknowledged records the index still points at; \
                         remove the expiration or limit the rule to other prefixes"
                    ),
                ));
            }
        }
        for transition in rule.transitions() {
            let Some(class) = transition.storage_class() else {
                continue;
            };
            let archived = matches!(
                class,
                TransitionStorageClass::Glacier | TransitionStorageClass::DeepArchive
            );
            let when = transition
                .days()
                .map(|d| format!("after {d} days"))
                .unwrap_or_default();
            if archived {
                problems.push(Finding::fail(
                    "lifecycle",
                    Risk::Unusable,
                    format!(
                        "{name} moves objects under {ours} to {} {when}: archived objects cannot be \
                         read without a restore, so consumers of older records would fail",
                        class.as_str()
                    ),
                ));
            } else {
                problems.push(Finding::warn(
                    "lifecycle",
                    format!(
                        "{name} moves objects under {ours} to {} {when}: reads of older records \
                         then pay retrieval fees",
                        class.as_str()
                    ),
                ));
            }
        }
    }
    let mut findings = Vec::new();
    if problems.is_empty() {
        let count = rules.len();
        findings.push(Finding::pass(
            "lifecycle",
            match count {
                0 => "no lifecycle rules: nothing expires Skiff's objects".to_string(),
                _ => format!("{count} rule(s), none expires or archives objects under {ours}"),
            },
        ));
    }
    findings.extend(problems);
    let aborts = covering(rules, target).any(|r| r.abort_incomplete_multipart_upload().is_some());
    findings.push(if aborts {
        Finding::pass(
            "multipart-cleanup",
            "incomplete multipart uploads are aborted by a rule",
        )
    } else {
        Finding::warn(
            "multipart-cleanup",
            "no rule aborts incomplete multipart uploads: parts of interrupted uploads keep \
             costing storage (add AbortIncompleteMultipartUpload)",
        )
    });
    findings
}

async fn versioning(
    client: &aws_sdk_s3::Client,
    target: &S3Target,
    noncurrent_expiry: NoncurrentExpiry,
) -> Finding {
    const CHECK: &str = "versioning";
    let response = match client
        .get_bucket_versioning()
        .bucket(&target.bucket)
        .send()
        .await
    {
        Ok(response) => response,
        Err(err) => {
            return Finding::warn(
                CHECK,
                format!(
                    "cannot read the versioning state: {}; grant s3:GetBucketVersioning to check",
                    describe(&err)
                ),
            );
        }
    };
    match (response.status(), noncurrent_expiry) {
        (Some(BucketVersioningStatus::Enabled), Some(false)) => Finding::warn(
            CHECK,
            "enabled, but no rule expires noncurrent versions: every segment Skiff deletes stays \
             as a noncurrent version and keeps costing (add NoncurrentVersionExpiration)",
        ),
        (Some(BucketVersioningStatus::Enabled), _) => Finding::pass(
            CHECK,
            "enabled (a mistaken delete can be undone); noncurrent versions expire by rule",
        ),
        (Some(BucketVersioningStatus::Suspended), _) => {
            Finding::pass(CHECK, "suspended: new deletes remove objects at once")
        }
        _ => Finding::pass(
            CHECK,
            "off: Skiff's deletes remove objects at once, and so would a mistaken delete outside Skiff",
        ),
    }
}

async fn encryption(client: &aws_sdk_s3::Client, target: &S3Target) -> Finding {
    const CHECK: &str = "encryption";
    let response = client
        .get_bucket_encryption()
        .bucket(&target.bucket)
        .send()
        .await;
    let configuration = match response {
        Ok(response) => response.server_side_encryption_configuration,
        Err(err) if error_code(&err) == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            None
        }
        Err(err) => {
            return Finding::warn(
                CHECK,
                format!(
                    "cannot read the default encryption: {}; grant s3:GetEncryptionConfiguration to check",
                    describe(&err)
                ),
            );
        }
    };
    let default = configuration
        .as_ref()
        .and_then(|c| c.rules().first())
        .and_then(|rule| {
            rule.apply_server_side_encryption_by_default()
                .map(|d| (d, rule.bucket_key_enabled().unwrap_or(false)))
        });
    match default {
        Some((by_default, bucket_key)) => {
            let algorithm = by_default.sse_algorithm();
            let detail = match algorithm {
                ServerSideEncryption::Aes256 => "SSE-S3 (AES256) by default".to_string(),
                _ => format!(
                    "{} by default{}{}",
                    algorithm.as_str(),
                    by_default
                        .kms_master_key_id()
                        .map(|k| format!(" with key {k}"))
                        .unwrap_or_default(),
                    if bucket_key { ", bucket key on" } else { "" }
                ),
            };
            Finding::pass(CHECK, detail)
        }
        None => Finding::warn(
            CHECK,
            "no default encryption configured: objects are stored as the server's default has it",
        ),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, LifecycleExpiration, LifecycleRuleAndOperator,
        LifecycleRuleFilter, NoncurrentVersionExpiration, Tag, Transition,
    };

    use super::*;
    use crate::report::Status;

    fn target() -> S3Target {
        S3Target::parse("s3://bucket/skiff").unwrap()
    }

    fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
        LifecycleRule::builder()
            .id(id)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
    }

    fn expire_after(days: i32) -> LifecycleExpiration {
        LifecycleExpiration::builder().days(days).build()
    }

    fn statuses(findings: &[Finding], check: &str) -> Vec<Status> {
        findings
            .iter()
            .filter(|f| f.check == check)
            .map(|f| f.status)
            .collect()
    }

    #[test]
    fn an_expiry_that_reaches_the_prefix_risks_data() {
        let rules = [
            rule("whole-bucket", "")
                .expiration(expire_after(30))
                .build()
                .unwrap(),
            rule("segments", "skiff/segments/")
                .expiration(expire_after(7))
                .build()
                .unwrap(),
        ];
        let findings = evaluate_rules(&rules, &target());
        let failures: Vec<_> = findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .collect();
        assert_eq!(failures.len(), 2, "{findings:?}");
        assert!(failures.iter().all(|f| f.risk == Risk::DataLoss));
        assert!(
            failures[0]
                .detail
                .contains("rule \"whole-bucket\" expires objects under skiff/ after 30 days")
        );
    }

    #[test]
    fn rules_that_cannot_touch_skiff_objects_pass() {
        let rules = [
            rule("other-prefix", "logs/")
                .expiration(expire_after(1))
                .build()
                .unwrap(),
            rule("lookalike", "skiffy/")
                .expiration(expire_after(1))
                .build()
                .unwrap(),
            LifecycleRule::builder()
                .id("tagged")
                .status(ExpirationStatus::Enabled)
                .filter(
                    LifecycleRuleFilter::builder()
                        .and(
                            LifecycleRuleAndOperator::builder()
                                .prefix("skiff/")
                                .tags(Tag::builder().key("tmp").value("1").build().unwrap())
                                .build(),
                        )
                        .build(),
                )
                .expiration(expire_after(1))
                .build()
                .unwrap(),
            rule("disabled", "skiff/")
                .status(ExpirationStatus::Disabled)
                .expiration(expire_after(1))
                .build()
                .unwrap(),
            rule("housekeeping", "")
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(2)
                        .build(),
                )
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(7)
                        .build(),
                )
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .unwrap(),
        ];
        let findings = evaluate_rules(&rules, &target());
        assert_eq!(
            statuses(&findings, "lifecycle"),
            [Status::Pass],
            "{findings:?}"
        );
        assert_eq!(statuses(&findings, "multipart-cleanup"), [Status::Pass]);
    }

    #[test]
    fn archive_tiers_make_objects_unreadable_and_other_tiers_warn() {
        let rules = [rule("archive", "skiff/")
            .transitions(
                Transition::builder()
                    .days(30)
                    .storage_class(TransitionStorageClass::Glacier)
                    .build(),
            )
            .transitions(
                Transition::builder()
                    .days(10)
                    .storage_class(TransitionStorageClass::StandardIa)
                    .build(),
            )
            .build()
            .unwrap()];
        let findings = evaluate_rules(&rules, &target());
        assert_eq!(
            statuses(&findings, "lifecycle"),
            [Status::Fail, Status::Warn],
            "{findings:?}"
        );
        assert_eq!(findings[0].risk, Risk::Unusable);
        assert_eq!(statuses(&findings, "multipart-cleanup"), [Status::Warn]);
    }

    #[test]
    fn no_rules_pass_with_a_cleanup_warning() {
        let findings = evaluate_rules(&[], &target());
        assert_eq!(statuses(&findings, "lifecycle"), [Status::Pass]);
        assert_eq!(statuses(&findings, "multipart-cleanup"), [Status::Warn]);
    }
}
