//! ACLs: CreateAcls, DescribeAcls and DeleteAcls, with Kafka's codes (the caller names them;
//! this crate knows no ACL model of its own).

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};

use super::str_bytes;
use crate::client::KafkaClient;
use crate::error::ClientError;

/// One ACL binding, in Kafka's codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

/// A DescribeAcls or DeleteAcls filter: `None` strings and Kafka's ANY code (1) match all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: i8,
    pub resource_name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission: i8,
}

impl KafkaClient {
    /// Creates every binding; the first refused one is the error.
    pub async fn create_acls(&self, acls: &[Acl]) -> Result<(), ClientError> {
        let request = create_acls_request(acls);
        let connection = self.any_broker().await?;
        let response = connection.send(&request).await?;
        for (acl, result) in acls.iter().zip(&response.results) {
            if result.error_code != 0 {
                return Err(ClientError::kafka(
                    result.error_code,
                    format!(
                        "cannot create the ACL for {} on {}",
                        acl.principal, acl.resource_name
                    ),
                    result.error_message.as_deref(),
                ));
            }
        }
        Ok(())
    }

    /// The bindings the filter selects.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<Acl>, ClientError> {
        let request = describe_acls_request(filter);
        let connection = self.any_broker().await?;
        let response = connection.send(&request).await?;
        if response.error_code != 0 {
            return Err(ClientError::kafka(
                response.error_code,
                "cannot describe ACLs",
                response.error_message.as_deref(),
            ));
        }
        Ok(response
            .resources
            .iter()
            .flat_map(|r| {
                r.acls.iter().map(|a| Acl {
                    resource_type: r.resource_type,
                    resource_name: r.resource_name.to_string(),
                    pattern_type: r.pattern_type,
                    principal: a.principal.to_string(),
                    host: a.host.to_string(),
                    operation: a.operation,
                    permission: a.permission_type,
                })
            })
            .collect())
    }

    /// Deletes what the filters select and returns the deleted bindings.
    pub async fn delete_acls(&self, filters: &[AclFilter]) -> Result<Vec<Acl>, ClientError> {
        let request = delete_acls_request(filters);
        let connection = self.any_broker().await?;
        let response = connection.send(&request).await?;
        let mut deleted = Vec::new();
        for result in &response.filter_results {
            if result.error_code != 0 {
                return Err(ClientError::kafka(
                    result.error_code,
                    "cannot delete ACLs",
                    result.error_message.as_deref(),
                ));
            }
            deleted.extend(result.matching_acls.iter().map(|a| Acl {
                resource_type: a.resource_type,
                resource_name: a.resource_name.to_string(),
                pattern_type: a.pattern_type,
                principal: a.principal.to_string(),
                host: a.host.to_string(),
                operation: a.operation,
                permission: a.permission_type,
            }));
        }
        Ok(deleted)
    }
}

pub(crate) fn create_acls_request(acls: &[Acl]) -> CreateAclsRequest {
    CreateAclsRequest::default().with_creations(
        acls.iter()
            .map(|a| {
                AclCreation::default()
                    .with_resource_type(a.resource_type)
                    .with_resource_name(str_bytes(&a.resource_name))
                    .with_resource_pattern_type(a.pattern_type)
                    .with_principal(str_bytes(&a.principal))
                    .with_host(str_bytes(&a.host))
                    .with_operation(a.operation)
                    .with_permission_type(a.permission)
            })
            .collect(),
    )
}

pub(crate) fn describe_acls_request(f: &AclFilter) -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(f.resource_type)
        .with_resource_name_filter(f.resource_name.as_deref().map(str_bytes))
        .with_pattern_type_filter(f.pattern_type)
        .with_principal_filter(f.principal.as_deref().map(str_bytes))
        .with_host_filter(f.host.as_deref().map(str_bytes))
        .with_operation(f.operation)
        .with_permission_type(f.permission)
}

pub(crate) fn delete_acls_request(filters: &[AclFilter]) -> DeleteAclsRequest {
    DeleteAclsRequest::default().with_filters(
        filters
            .iter()
            .map(|f| {
                DeleteAclsFilter::default()
                    .with_resource_type_filter(f.resource_type)
                    .with_resource_name_filter(f.resource_name.as_deref().map(str_bytes))
                    .with_pattern_type_filter(f.pattern_type)
                    .with_principal_filter(f.principal.as_deref().map(str_bytes))
                    .with_host_filter(f.host.as_deref().map(str_bytes))
                    .with_operation(f.operation)
                    .with_permission_type(f.permission)
            })
            .collect(),
    )
}
