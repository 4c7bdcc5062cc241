//! `--cluster-secret-file`: the shared secret of the controller API, for every command that
//! serves it or talks to it (`skiff controller`, `skiff broker`, `skiff dev --controller-addr`,
//! `skiff controller admin`, `skiff archive run`). Only a file path is ever on the command
//! line, so the secret does not show in `ps` or shell history.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use skiff_controller::auth::ClusterSecret;

#[derive(Debug, Default, Clone, Args)]
pub struct ClusterSecretArgs {
    /// File holding the controller API's shared secret (at least 16 bytes, e.g. from
    /// `openssl rand -hex 32`; surrounding whitespace ignored). Every controller, broker and
    /// admin command of a cluster needs the same one: requests are signed with it and
    /// unsigned ones are refused with HTTP 401. Without it the API is open to anyone who
    /// can reach it.
    #[arg(long, env = "SKIFF_CLUSTER_SECRET_FILE", value_name = "FILE")]
    pub cluster_secret_file: Option<PathBuf>,
}

impl ClusterSecretArgs {
    pub fn load(&self) -> anyhow::Result<Option<ClusterSecret>> {
        self.cluster_secret_file
            .as_deref()
            .map(ClusterSecret::from_file)
            .transpose()
            .context("--cluster-secret-file")
    }
}
