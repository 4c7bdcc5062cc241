//! Registering archive tables in the AWS Glue Data Catalog, so Athena (and anything else that
//! reads Glue) queries them with no crawler. Skiff's controller stays the catalog of record:
//! after each archive commit the committing job points the Glue table at the new metadata file,
//! as Iceberg's own Glue catalog does (`table_type=ICEBERG`, `metadata_location`,
//! `previous_metadata_location`). A failed update is logged and repaired by the next commit.

use aws_config::BehaviorVersion;
use aws_sdk_glue::Client;
use aws_sdk_glue::config::{Credentials, Region};
use aws_sdk_glue::error::{DisplayErrorContext, SdkError};
use aws_sdk_glue::types::{Column, StorageDescriptor, TableInput};
use skiff_storage::StoreConfig;

use crate::catalog::metadata_version;
use crate::schema::COLUMNS;

/// Hive types Glue shows for the archive's columns (Athena reads the schema from the Iceberg
/// metadata; these are for the console and for engines that read Glue's columns).
const GLUE_TYPES: [&str; 8] = [
    "string",
    "int",
    "bigint",
    "timestamp",
    "string",
    "binary",
    "binary",
    "array<struct<key:string,value:binary>>",
];

/// Where archive tables are registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlueSettings {
    pub database: String,
    /// Another Glue endpoint (moto, LocalStack); the AWS one for the region when `None`.
    pub endpoint: Option<String>,
}

/// Why Glue did not take a table.
#[derive(Debug, thiserror::Error)]
pub enum GlueError {
    #[error("no AWS region for Glue: set --s3-region or AWS_REGION")]
    NoRegion,
    #[error("the Glue table {database}.{table}: {reason}")]
    Call {
        database: String,
        table: String,
        reason: String,
    },
}

/// A Glue client for one database.
#[derive(Debug, Clone)]
pub struct GlueCatalog {
    client: Client,
    database: String,
}

impl GlueCatalog {
    /// A client with the object store's region and static credentials when it has them, the
    /// AWS configuration chain (environment, profile, instance role) otherwise.
    pub async fn connect(settings: &GlueSettings, store: &StoreConfig) -> Result<Self, GlueError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &store.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let (Some(key), Some(secret)) = (&store.access_key_id, &store.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                key.clone(),
                secret.clone(),
                store.session_token.clone(),
                None,
                "skiff-object-store",
            ));
        }
        let shared = loader.load().await;
        if shared.region().is_none() {
            return Err(GlueError::NoRegion);
        }
        let mut config = aws_sdk_glue::config::Builder::from(&shared);
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint.clone());
        }
        Ok(GlueCatalog {
            client: Client::from_conf(config.build()),
            database: settings.database.clone(),
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// Points `table` (created if missing) at `metadata_location`. Never moves a table back
    /// to an older metadata version, so a slow job cannot undo a later commit's update.
    pub async fn publish(
        &self,
        table: &str,
        table_location: &str,
        metadata_location: &str,
    ) -> Result<GluePublish, GlueError> {
        let fail = |reason: String| GlueError::Call {
            database: self.database.clone(),
            table: table.to_string(),
            reason,
        };
        let current = match self
            .client
            .get_table()
            .database_name(&self.database)
            .name(table)
            .send()
            .await
        {
            Ok(found) => Some(
                found
                    .table()
                    .and_then(|t| t.parameters())
                    .and_then(|p| p.get("metadata_location"))
                    .cloned()
                    .unwrap_or_default(),
            ),
            Err(SdkError::ServiceError(e)) if e.err().is_entity_not_found_exception() => None,
            Err(e) => return Err(fail(DisplayErrorContext(&e).to_string())),
        };
        let previous = current.as_deref().filter(|location| !location.is_empty());
        let input = table_input(table, table_location, metadata_location, previous)
            .map_err(|e| fail(e.to_string()))?;
        match current {
            None => {
                self.client
                    .create_table()
                    .database_name(&self.database)
                    .table_input(input)
                    .send()
                    .await
                    .map_err(|e| fail(DisplayErrorContext(&e).to_string()))?;
                Ok(GluePublish::Created)
            }
            Some(current)
                if metadata_version(&current) >= metadata_version(metadata_location)
                    && current.starts_with(table_location) =>
            {
                Ok(GluePublish::AlreadyNewer)
            }
            Some(_) => {
                self.client
                    .update_table()
                    .database_name(&self.database)
                    .table_input(input)
                    .send()
                    .await
                    .map_err(|e| fail(DisplayErrorContext(&e).to_string()))?;
                Ok(GluePublish::Updated)
            }
        }
    }
}

/// What [`GlueCatalog::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GluePublish {
    Created,
    Updated,
    /// Glue already named this version or a later one.
    AlreadyNewer,
}

/// The Glue (and Athena) name of `topic`'s table: Glue names are lower case letters, digits
/// and underscores, so `Orders.EU-west` becomes `orders_eu_west`. Two topics that differ only
/// in those characters share a name: give them different databases.
pub fn glue_table_name(topic: &str) -> String {
    topic
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

fn table_input(
    table: &str,
    table_location: &str,
    metadata_location: &str,
    previous: Option<&str>,
) -> Result<TableInput, aws_sdk_glue::error::BuildError> {
    let mut columns = Vec::with_capacity(COLUMNS.len());
    for (name, kind) in COLUMNS.iter().zip(GLUE_TYPES) {
        columns.push(Column::builder().name(*name).r#type(kind).build()?);
    }
    let mut input = TableInput::builder()
        .name(table)
        .table_type("EXTERNAL_TABLE")
        .parameters("table_type", "ICEBERG")
        .parameters("metadata_location", metadata_location)
        .storage_descriptor(
            StorageDescriptor::builder()
                .location(table_location)
                .set_columns(Some(columns))
                .build(),
        );
    if let Some(previous) = previous {
        input = input.parameters("previous_metadata_location", previous);
    }
    input.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_names_are_lower_case_letters_digits_and_underscores() {
        assert_eq!(glue_table_name("Orders.EU-west_2"), "orders_eu_west_2");
        assert_eq!(glue_table_name("plain"), "plain");
    }

    #[test]
    fn the_table_input_is_what_athena_reads() {
        let input = table_input(
            "orders",
            "s3://b/p/archive/orders",
            "s3://b/p/archive/orders/metadata/v3.metadata.json",
            Some("s3://b/p/archive/orders/metadata/v2.metadata.json"),
        )
        .unwrap();
        let parameters = input.parameters().unwrap();
        assert_eq!(parameters["table_type"], "ICEBERG");
        assert!(parameters["metadata_location"].ends_with("/v3.metadata.json"));
        assert!(parameters["previous_metadata_location"].ends_with("/v2.metadata.json"));
        let columns = input.storage_descriptor().unwrap().columns();
        assert_eq!(columns.len(), COLUMNS.len());
        assert_eq!(columns[7].r#type(), Some(GLUE_TYPES[7]));
    }
}
