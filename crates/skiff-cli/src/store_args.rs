//! The object store flags shared by `skiff dev`, `skiff broker` and `skiff controller`: every
//! process that opens the object store names it and reaches it the same way.

use clap::Args;
use skiff_storage::StoreConfig;

/// Which object store, and how to reach it when it is S3.
#[derive(Debug, Args)]
pub struct ObjectStoreArgs {
    /// Object store: file:///dir, memory:// or s3://bucket/prefix [skiff dev:
    /// file://<data-dir>/objects].
    #[arg(long, env = "SKIFF_OBJECT_STORE", value_name = "URL")]
    pub object_store: Option<String>,

    #[command(flatten)]
    pub s3: S3Args,
}

impl ObjectStoreArgs {
    /// The store the flags name, if they name one, with the S3 flags applied.
    pub fn store_config(&self) -> Option<StoreConfig> {
        let url = self.object_store.clone()?;
        let mut store = StoreConfig::for_url(url);
        self.s3.apply_to(&mut store);
        Some(store)
    }
}

#[derive(Debug, Args)]
pub struct S3Args {
    /// S3-compatible endpoint, e.g. http://127.0.0.1:4566 (also AWS_ENDPOINT_URL).
    #[arg(long, env = "SKIFF_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// S3 region (also AWS_REGION) [default: us-east-1].
    #[arg(long, env = "SKIFF_S3_REGION")]
    pub s3_region: Option<String>,

    /// S3 access key id (also AWS_ACCESS_KEY_ID).
    #[arg(long, env = "SKIFF_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,

    /// S3 secret access key (also AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "SKIFF_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// Allow plain-HTTP S3 endpoints [default: yes for http:// endpoints].
    #[arg(long, env = "SKIFF_S3_ALLOW_HTTP", num_args = 0..=1, default_missing_value = "true")]
    pub s3_allow_http: Option<bool>,

    /// Use virtual-hosted-style S3 addressing instead of path style [default: false].
    #[arg(long, env = "SKIFF_S3_VIRTUAL_HOSTED_STYLE", num_args = 0..=1, default_missing_value = "true")]
    pub s3_virtual_hosted_style: Option<bool>,
}

impl S3Args {
    /// Overrides the settings of `store` that a flag or `SKIFF_S3_*` variable gives; the rest
    /// keep what the config file (or the default) said.
    pub fn apply_to(&self, store: &mut StoreConfig) {
        fn set_given<T: Clone>(target: &mut Option<T>, value: &Option<T>) {
            if value.is_some() {
                target.clone_from(value);
            }
        }
        set_given(&mut store.endpoint, &self.s3_endpoint);
        set_given(&mut store.region, &self.s3_region);
        set_given(&mut store.access_key_id, &self.s3_access_key_id);
        set_given(&mut store.secret_access_key, &self.s3_secret_access_key);
        set_given(&mut store.allow_http, &self.s3_allow_http);
        if let Some(virtual_hosted) = self.s3_virtual_hosted_style {
            store.virtual_hosted_style = virtual_hosted;
        }
    }
}
