//! `skiff acl create|list|delete`: ACLs through the Kafka admin APIs (CreateAcls,
//! DescribeAcls, DeleteAcls), with kafka-acls' flags.

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use skiff_client::{Acl, AclFilter};
use skiff_meta::acl::{
    AclOperation, AclPermission, CLUSTER_RESOURCE_NAME, PatternType, ResourceType, WILDCARD,
};

use super::common::ClientArgs;
use crate::output::{Table, print_json, print_text};

/// Kafka's ANY code in every ACL enum.
const ANY: i8 = 1;
/// Kafka's MATCH pattern filter.
const MATCH: i8 = 2;

#[derive(Debug, Args)]
pub struct AclArgs {
    #[command(subcommand)]
    pub command: AclCommand,
}

#[derive(Debug, Subcommand)]
pub enum AclCommand {
    /// Allow or deny principals operations on a resource (kafka-acls --add).
    #[command(
        visible_alias = "add",
        after_help = "Examples:\n  \
        skiff acl create --allow-principal User:alice --operation Write --topic orders\n  \
        skiff acl create --allow-principal User:alice --operation Read --group billing- --resource-pattern-type prefixed\n  \
        skiff acl create --deny-principal User:bob --operation All --topic secrets"
    )]
    Create(ChangeArgs),

    /// List ACLs, all or those on one resource (kafka-acls --list).
    #[command(after_help = "Examples:\n  \
        skiff acl list\n  \
        skiff acl list --topic orders --resource-pattern-type match\n  \
        skiff acl list --principal User:alice --json")]
    List(ListArgs),

    /// Delete the ACLs the flags select (kafka-acls --remove).
    #[command(
        visible_alias = "remove",
        after_help = "Examples:\n  \
        skiff acl delete --allow-principal User:alice --operation Write --topic orders\n  \
        skiff acl delete --topic orders"
    )]
    Delete(ChangeArgs),
}

/// Which resource the command is about (one of them).
#[derive(Debug, Clone, Args)]
#[group(multiple = false)]
pub struct ResourceArgs {
    /// A topic name (or prefix), `*` for every topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// A consumer group id (or prefix), `*` for every group.
    #[arg(long)]
    pub group: Option<String>,
    /// The cluster.
    #[arg(long)]
    pub cluster: bool,
    /// A transactional id (or prefix).
    #[arg(long)]
    pub transactional_id: Option<String>,
}

impl ResourceArgs {
    fn resource(&self) -> Option<(ResourceType, &str)> {
        if let Some(t) = &self.topic {
            Some((ResourceType::Topic, t))
        } else if let Some(g) = &self.group {
            Some((ResourceType::Group, g))
        } else if let Some(t) = &self.transactional_id {
            Some((ResourceType::TransactionalId, t))
        } else if self.cluster {
            Some((ResourceType::Cluster, CLUSTER_RESOURCE_NAME))
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PatternArg {
    Literal,
    Prefixed,
    /// Filters only: every pattern type.
    Any,
    /// Filters only: every binding that applies to the named resource.
    Match,
}

impl PatternArg {
    fn code(self) -> i8 {
        match self {
            PatternArg::Literal => PatternType::Literal.code(),
            PatternArg::Prefixed => PatternType::Prefixed.code(),
            PatternArg::Any => ANY,
            PatternArg::Match => MATCH,
        }
    }
}

fn parse_operation(name: &str) -> Result<AclOperation, String> {
    AclOperation::from_name(name).ok_or_else(|| {
        format!("unknown operation {name:?}: use Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All")
    })
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// Principal to allow, e.g. User:alice (repeatable; User:* is everyone).
    #[arg(long, value_name = "User:NAME")]
    pub allow_principal: Vec<String>,
    /// Principal to deny (repeatable).
    #[arg(long, value_name = "User:NAME")]
    pub deny_principal: Vec<String>,
    /// Host (client IP address) the ACL applies to.
    #[arg(long, default_value = WILDCARD)]
    pub host: String,
    /// Operation (repeatable): Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, All.
    #[arg(long, value_parser = parse_operation)]
    pub operation: Vec<AclOperation>,
    #[command(flatten)]
    pub resource: ResourceArgs,
    /// How the resource name matches (create: literal or prefixed; delete: also any, match).
    #[arg(long, value_enum, default_value = "literal")]
    pub resource_pattern_type: PatternArg,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub resource: ResourceArgs,
    /// Only ACLs of this principal.
    #[arg(long, value_name = "User:NAME")]
    pub principal: Option<String>,
    /// How the resource name is matched [default: literal with a resource, any without].
    #[arg(long, value_enum)]
    pub resource_pattern_type: Option<PatternArg>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: AclArgs) -> anyhow::Result<()> {
    match args.command {
        AclCommand::Create(args) => create(args).await,
        AclCommand::List(args) => list(args).await,
        AclCommand::Delete(args) => delete(args).await,
    }
}

/// (principal, permission) pairs the flags name.
fn principals(args: &ChangeArgs) -> Vec<(&str, AclPermission)> {
    args.allow_principal
        .iter()
        .map(|p| (p.as_str(), AclPermission::Allow))
        .chain(
            args.deny_principal
                .iter()
                .map(|p| (p.as_str(), AclPermission::Deny)),
        )
        .collect()
}

async fn create(args: ChangeArgs) -> anyhow::Result<()> {
    let Some((resource_type, name)) = args.resource.resource() else {
        bail!("name the resource: --topic, --group, --cluster or --transactional-id");
    };
    let pattern_type = match args.resource_pattern_type {
        PatternArg::Literal => PatternType::Literal,
        PatternArg::Prefixed => PatternType::Prefixed,
        other => bail!("ACLs are created LITERAL or PREFIXED, not {other:?}"),
    };
    let principals = principals(&args);
    if principals.is_empty() {
        bail!("name at least one --allow-principal or --deny-principal");
    }
    if args.operation.is_empty() {
        bail!("name at least one --operation");
    }
    let host = &args.host;
    let acls: Vec<Acl> = principals
        .iter()
        .flat_map(|(principal, permission)| {
            args.operation.iter().map(move |op| Acl {
                resource_type: resource_type.code(),
                resource_name: name.to_string(),
                pattern_type: pattern_type.code(),
                principal: principal.to_string(),
                host: host.clone(),
                operation: op.code(),
                permission: permission.code(),
            })
        })
        .collect();
    let client = args.client.connect().await?;
    client.create_acls(&acls).await?;
    report(&acls, "created", args.client.json)
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let resource = args.resource.resource();
    let pattern = args.resource_pattern_type.unwrap_or(if resource.is_some() {
        PatternArg::Literal
    } else {
        PatternArg::Any
    });
    let filter = AclFilter {
        resource_type: resource.map_or(ANY, |(t, _)| t.code()),
        resource_name: resource.map(|(_, name)| name.to_string()),
        pattern_type: pattern.code(),
        principal: args.principal.clone(),
        host: None,
        operation: ANY,
        permission: ANY,
    };
    let client = args.client.connect().await?;
    let acls = client.describe_acls(&filter).await?;
    if !args.client.json && acls.is_empty() {
        print_text("no ACLs\n")?;
        return Ok(());
    }
    report(&acls, "", args.client.json)
}

async fn delete(args: ChangeArgs) -> anyhow::Result<()> {
    let resource = args.resource.resource();
    let principals = principals(&args);
    if resource.is_none() && principals.is_empty() {
        bail!("name a resource or a principal (deleting every ACL takes --topic '*' and the like)");
    }
    let principal_filters: Vec<(Option<&str>, i8)> = if principals.is_empty() {
        vec![(None, ANY)]
    } else {
        principals
            .iter()
            .map(|(p, permission)| (Some(*p), permission.code()))
            .collect()
    };
    let operations: Vec<i8> = if args.operation.is_empty() {
        vec![ANY]
    } else {
        args.operation.iter().map(|o| o.code()).collect()
    };
    let mut filters = Vec::new();
    for (principal, permission) in &principal_filters {
        for operation in &operations {
            filters.push(AclFilter {
                resource_type: resource.map_or(ANY, |(t, _)| t.code()),
                resource_name: resource.map(|(_, name)| name.to_string()),
                pattern_type: if resource.is_some() {
                    args.resource_pattern_type.code()
                } else {
                    ANY
                },
                principal: principal.map(str::to_string),
                host: (args.host != WILDCARD).then(|| args.host.clone()),
                operation: *operation,
                permission: *permission,
            });
        }
    }
    let client = args.client.connect().await?;
    let deleted = client.delete_acls(&filters).await?;
    if !args.client.json && deleted.is_empty() {
        print_text("no ACL matched\n")?;
        return Ok(());
    }
    report(&deleted, "deleted", args.client.json)
}

fn name_of<T: Copy>(
    code: i8,
    all: &[T],
    code_of: fn(T) -> i8,
    name: fn(T) -> &'static str,
) -> String {
    all.iter()
        .find(|v| code_of(**v) == code)
        .map_or_else(|| code.to_string(), |v| name(*v).to_string())
}

fn report(acls: &[Acl], verb: &str, as_json: bool) -> anyhow::Result<()> {
    let resource_type = |c| {
        name_of(
            c,
            &ResourceType::ALL,
            ResourceType::code,
            ResourceType::name,
        )
    };
    let pattern = |c| {
        name_of(
            c,
            &[PatternType::Literal, PatternType::Prefixed],
            PatternType::code,
            PatternType::name,
        )
    };
    let operation = |c| {
        name_of(
            c,
            &AclOperation::ALL,
            AclOperation::code,
            AclOperation::name,
        )
    };
    let permission = |c| {
        name_of(
            c,
            &[AclPermission::Deny, AclPermission::Allow],
            AclPermission::code,
            AclPermission::name,
        )
    };
    if as_json {
        let rows: Vec<_> = acls
            .iter()
            .map(|a| {
                json!({
                    "resource_type": resource_type(a.resource_type),
                    "resource_name": a.resource_name,
                    "pattern_type": pattern(a.pattern_type),
                    "principal": a.principal,
                    "host": a.host,
                    "operation": operation(a.operation),
                    "permission": permission(a.permission),
                })
            })
            .collect();
        let key = if verb.is_empty() { "acls" } else { verb };
        print_json(&json!({ key: rows }))?;
        return Ok(());
    }
    let mut table = Table::new(&[
        "RESOURCE",
        "NAME",
        "PATTERN",
        "PRINCIPAL",
        "HOST",
        "OPERATION",
        "PERMISSION",
    ]);
    for a in acls {
        table.row(vec![
            resource_type(a.resource_type),
            a.resource_name.clone(),
            pattern(a.pattern_type),
            a.principal.clone(),
            a.host.clone(),
            operation(a.operation),
            permission(a.permission),
        ]);
    }
    if !verb.is_empty() {
        print_text(&format!("{verb} {} ACL(s)\n", acls.len()))?;
    }
    print_text(&table.render())?;
    Ok(())
}
