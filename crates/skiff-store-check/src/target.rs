//! The bucket and key prefix a store check looks at, from the store URL Skiff uses.

use crate::error::StoreCheckError;

/// `s3://bucket/prefix`: the bucket, and the prefix every Skiff object lives under (without
/// slashes at either end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Target {
    pub bucket: String,
    pub prefix: String,
}

impl S3Target {
    pub fn parse(url: &str) -> Result<Self, StoreCheckError> {
        let url = url.trim();
        let rest = url
            .strip_prefix("s3://")
            .or_else(|| url.strip_prefix("s3a://"))
            .ok_or_else(|| StoreCheckError::NotS3(url.to_string()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreCheckError::NoBucket {
                url: url.to_string(),
            });
        }
        let prefix = prefix.trim_matches('/');
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// `prefix/` — what every Skiff key starts with (empty: the whole bucket is Skiff's).
    pub fn key_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// Whether a lifecycle rule limited to keys starting with `rule_prefix` can reach Skiff's
    /// keys: either prefix contains the other (an empty rule prefix is the whole bucket).
    pub fn overlaps(&self, rule_prefix: &str) -> bool {
        let ours = self.key_prefix();
        ours.starts_with(rule_prefix) || rule_prefix.starts_with(&ours)
    }
}

impl std::fmt::Display for S3Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let target = S3Target::parse("s3://data/prod/skiff/").unwrap();
        assert_eq!(target.bucket, "data");
        assert_eq!(target.prefix, "prod/skiff");
        assert_eq!(target.to_string(), "s3://data/prod/skiff");
        assert!(matches!(
            S3Target::parse("file:///tmp/x"),
            Err(StoreCheckError::NotS3(_))
        ));
        assert!(matches!(
            S3Target::parse("s3:///p"),
            Err(StoreCheckError::NoBucket { .. })
        ));
        let whole = S3Target::parse("s3a://data").unwrap();
        assert_eq!(
            (whole.key_prefix().as_str(), whole.to_string().as_str()),
            ("", "s3://data")
        );
        assert!(whole.overlaps("any/prefix/"));
    }

    #[test]
    fn overlap_is_either_prefix_containing_the_other() {
        let target = S3Target::parse("s3://b/skiff").unwrap();
        assert!(target.overlaps(""));
        assert!(target.overlaps("sk"));
        assert!(target.overlaps("skiff/"));
        assert!(target.overlaps("skiff/segments/"));
        assert!(!target.overlaps("skiffy/"));
        assert!(!target.overlaps("logs/"));
    }
}
