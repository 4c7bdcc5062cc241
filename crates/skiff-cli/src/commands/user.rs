//! `skiff user create|delete|list`: SASL/SCRAM users, through the Kafka admin APIs
//! (AlterUserScramCredentials, DescribeUserScramCredentials) as Kafka's kafka-configs does.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use skiff_broker::security::bootstrap::DEFAULT_SCRAM_ITERATIONS;
use skiff_broker::security::scram_keys::{new_salt, salted_password};
use skiff_client::ScramUpsertion;
use skiff_meta::ScramMechanism;

use super::common::ClientArgs;
use crate::output::{Table, print_json, print_text};

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, or set its password, for one SCRAM mechanism (PLAIN logins check the
    /// same credential).
    #[command(after_help = "Examples:\n  \
        SKIFF_USER_PASSWORD=alice-secret skiff user create alice\n  \
        skiff user create alice --password alice-secret --mechanism SCRAM-SHA-512 --iterations 8192")]
    Create(CreateArgs),

    /// Delete a user's credentials (every mechanism unless one is named).
    #[command(after_help = "Examples:\n  \
        skiff user delete alice\n  \
        skiff user delete alice --mechanism SCRAM-SHA-512")]
    Delete(DeleteArgs),

    /// List users and their SCRAM mechanisms.
    #[command(after_help = "Examples:\n  \
        skiff user list\n  \
        skiff user list --json")]
    List(ListArgs),
}

fn parse_mechanism(name: &str) -> Result<ScramMechanism, String> {
    ScramMechanism::from_name(name)
        .ok_or_else(|| format!("unknown mechanism {name:?}: use SCRAM-SHA-256 or SCRAM-SHA-512"))
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// User name.
    pub user: String,
    /// The password (better given in SKIFF_USER_PASSWORD than on the command line).
    #[arg(long, env = "SKIFF_USER_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long, default_value = "SCRAM-SHA-256", value_parser = parse_mechanism)]
    pub mechanism: ScramMechanism,
    /// PBKDF2 iterations (4096 to 16384).
    #[arg(long, default_value_t = DEFAULT_SCRAM_ITERATIONS)]
    pub iterations: u32,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// User name.
    pub user: String,
    /// Only this mechanism's credential [default: all of the user's].
    #[arg(long, value_parser = parse_mechanism)]
    pub mechanism: Option<ScramMechanism>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: UserArgs) -> anyhow::Result<()> {
    match args.command {
        UserCommand::Create(args) => create(args).await,
        UserCommand::Delete(args) => delete(args).await,
        UserCommand::List(args) => list(args).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    if args.password.is_empty() {
        bail!("the password must not be empty");
    }
    let client = args.client.connect().await?;
    let salt = new_salt();
    let salted = salted_password(
        args.mechanism,
        args.password.as_bytes(),
        &salt,
        args.iterations,
    );
    let upsertion = ScramUpsertion {
        user: args.user.clone(),
        mechanism: args.mechanism.code(),
        iterations: i32::try_from(args.iterations).unwrap_or(i32::MAX),
        salt,
        salted_password: salted,
    };
    client.upsert_scram_credential(&upsertion).await?;
    if args.client.json {
        print_json(
            &json!({"user": args.user, "mechanism": args.mechanism.name(), "iterations": args.iterations}),
        )?;
    } else {
        print_text(&format!(
            "set {} credential of user {} ({} iterations)\n",
            args.mechanism.name(),
            args.user,
            args.iterations
        ))?;
    }
    Ok(())
}

async fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let mechanisms = match args.mechanism {
        Some(mechanism) => vec![mechanism],
        None => {
            let users = client
                .describe_users(Some(std::slice::from_ref(&args.user)))
                .await
                .with_context(|| format!("cannot find user {}", args.user))?;
            users
                .iter()
                .flat_map(|u| &u.credentials)
                .filter_map(|(code, _)| ScramMechanism::from_code(*code))
                .collect()
        }
    };
    for mechanism in &mechanisms {
        client
            .delete_scram_credential(&args.user, mechanism.code())
            .await?;
    }
    let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
    if args.client.json {
        print_json(&json!({"user": args.user, "deleted": names}))?;
    } else {
        print_text(&format!(
            "deleted user {} ({})\n",
            args.user,
            names.join(", ")
        ))?;
    }
    Ok(())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let users = client.describe_users(None).await?;
    let mechanism_name = |code: i8| ScramMechanism::from_code(code).map_or("unknown", |m| m.name());
    if args.client.json {
        let users: Vec<_> = users
            .iter()
            .map(|u| {
                json!({
                    "user": u.user,
                    "credentials": u.credentials.iter().map(|(code, iterations)| {
                        json!({"mechanism": mechanism_name(*code), "iterations": iterations})
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&json!({ "users": users }))?;
        return Ok(());
    }
    if users.is_empty() {
        print_text("no users\n")?;
        return Ok(());
    }
    let mut table = Table::new(&["USER", "MECHANISMS"]);
    for user in &users {
        let mechanisms: Vec<String> = user
            .credentials
            .iter()
            .map(|(code, iterations)| {
                format!("{} ({iterations} iterations)", mechanism_name(*code))
            })
            .collect();
        table.row(vec![user.user.clone(), mechanisms.join(", ")]);
    }
    print_text(&table.render())?;
    Ok(())
}
