//! The job runner's settings on `skiff dev` and `skiff broker`: the jobs the controller's
//! leader leases to this broker (merges, compaction, archive passes) and where archive commits
//! are registered.

use anyhow::Context;
use skiff_archive::glue::{GlueCatalog, GlueSettings};
use skiff_jobs::JobRunnerConfig;
use skiff_storage::StoreConfig;

use crate::dev_args::DevArgs;

/// What the job runner needs from the command line, taken before the settings are resolved.
pub struct JobArgs {
    glue: Option<GlueSettings>,
}

impl JobArgs {
    pub fn from_args(args: &DevArgs) -> Self {
        JobArgs {
            glue: args
                .archive_glue_database
                .clone()
                .map(|database| GlueSettings {
                    database,
                    endpoint: args.archive_glue_endpoint.clone(),
                }),
        }
    }

    /// The runner's settings; connects the Glue client when asked for one, so a missing
    /// region stops the start-up with a readable reason.
    pub async fn config(
        self,
        broker_id: i32,
        store: &StoreConfig,
    ) -> anyhow::Result<JobRunnerConfig> {
        let archive_glue = match &self.glue {
            Some(settings) => Some(
                GlueCatalog::connect(settings, store)
                    .await
                    .with_context(|| format!("Glue database {}", settings.database))?,
            ),
            None => None,
        };
        Ok(JobRunnerConfig {
            archive_glue,
            ..JobRunnerConfig::new(broker_id)
        })
    }
}
