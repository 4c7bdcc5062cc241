//! What a store check found: one line per finding for people, JSON for scripts.

use std::fmt;

use serde::Serialize;

/// How a finding came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Worth knowing (costs, hygiene), but the cluster is safe and works.
    Warn,
    /// The bucket would lose acknowledged records, or the cluster cannot work with it.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// Why a failed finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Acknowledged records could disappear or be overwritten.
    DataLoss,
    /// Skiff cannot read or write the bucket as it needs to.
    Unusable,
    /// Nothing is lost, but something costs more or cannot be verified.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Short name of the check, e.g. `create-only-put`.
    pub check: &'static str,
    pub status: Status,
    pub risk: Risk,
    /// One readable sentence: what was seen and, for a failure, what to do.
    pub detail: String,
}

impl Finding {
    pub fn pass(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            status: Status::Pass,
            risk: Risk::None,
            detail: detail.into(),
        }
    }

    pub fn warn(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            status: Status::Warn,
            risk: Risk::None,
            detail: detail.into(),
        }
    }

    pub fn fail(check: &'static str, risk: Risk, detail: impl Into<String>) -> Self {
        Self {
            check,
            status: Status::Fail,
            risk,
            detail: detail.into(),
        }
    }
}

/// Every finding of one check run, in the order the checks ran.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The store as Skiff names it, e.g. `s3://bucket/prefix`.
    pub store: String,
    /// The endpoint asked, or `AWS` for the default.
    pub endpoint: String,
    pub region: String,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Findings that risk acknowledged records.
    pub fn data_risks(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Fail && f.risk == Risk::DataLoss)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Fail)
    }

    /// True when no finding failed: the bucket is safe and usable.
    pub fn is_ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The finding of one check, if it ran.
    pub fn finding(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }

    /// The closing sentence: how many findings failed and why it matters.
    pub fn verdict(&self) -> String {
        let failed = self.failures().count();
        let risky = self.data_risks().count();
        let warned = self
            .findings
            .iter()
            .filter(|f| f.status == Status::Warn)
            .count();
        match (failed, risky) {
            (0, _) if warned == 0 => "the bucket is safe for Skiff".to_string(),
            (0, _) => format!("the bucket is safe for Skiff ({warned} warning(s))"),
            (_, 0) => format!("{failed} check(s) failed: Skiff cannot use this bucket as it is"),
            _ => format!(
                "{failed} check(s) failed, {risky} of them risk acknowledged data: do not run Skiff on this bucket as it is"
            ),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("ok".into(), self.is_ok().into());
            object.insert(
                "risks_data".into(),
                self.data_risks().next().is_some().into(),
            );
            object.insert("verdict".into(), self.verdict().into());
        }
        value
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "store check of {} (endpoint {}, region {})",
            self.store, self.endpoint, self.region
        )?;
        let width = self
            .findings
            .iter()
            .map(|finding| finding.check.len())
            .max()
            .unwrap_or(0);
        for finding in &self.findings {
            writeln!(
                f,
                "  {}  {:width$}  {}",
                finding.status.label(),
                finding.check,
                finding.detail
            )?;
        }
        write!(f, "result: {}", self.verdict())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            store: "s3://b/p".into(),
            endpoint: "AWS".into(),
            region: "us-east-1".into(),
            findings,
        }
    }

    #[test]
    fn verdict_and_json_say_whether_data_is_at_risk() {
        let safe = report(vec![
            Finding::pass("write", "ok"),
            Finding::warn("versioning", "off"),
        ]);
        assert!(safe.is_ok());
        assert_eq!(
            safe.verdict(),
            "the bucket is safe for Skiff (1 warning(s))"
        );
        assert_eq!(safe.to_json()["risks_data"], false);

        let risky = report(vec![
            Finding::pass("write", "ok"),
            Finding::fail("lifecycle", Risk::DataLoss, "expires"),
            Finding::fail("delete", Risk::Unusable, "denied"),
        ]);
        assert!(!risky.is_ok());
        assert_eq!(risky.data_risks().count(), 1);
        assert!(risky.verdict().contains("1 of them risk acknowledged data"));
        let json = risky.to_json();
        assert_eq!(json["ok"], false);
        assert_eq!(json["risks_data"], true);
        assert_eq!(json["findings"][1]["status"], "fail");
        assert_eq!(json["findings"][1]["risk"], "data_loss");

        let text = risky.to_string();
        assert!(text.contains("  FAIL  lifecycle  expires"), "{text}");
        assert!(
            text.ends_with("do not run Skiff on this bucket as it is"),
            "{text}"
        );
    }
}
