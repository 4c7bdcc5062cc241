//! `skiff controller admin status|add-node|remove-node`.

use anyhow::Context;
use serde_json::json;
use skiff_controller::rpc::ControllerEndpoints;
use skiff_controller::rpc::wire::{MembershipReply, NodeStatus};

use crate::cluster_secret_args::ClusterSecretArgs;
use crate::controller_args::{AdminArgs, AdminCommand};
use crate::controller_tls_args::ControllerTlsArgs;
use crate::output::{Table, or_dash, print_json, print_text};

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let tls = ControllerTlsArgs {
        controller_tls_cert_file: args.controller_tls_cert_file.clone(),
        controller_tls_key_file: args.controller_tls_key_file.clone(),
        controller_tls_client_ca_file: args.controller_tls_client_ca_file.clone(),
    }
    .client()?;
    let endpoints = ControllerEndpoints::with_tls(args.controllers.clone(), tls.as_ref())?
        .with_secret(
            ClusterSecretArgs {
                cluster_secret_file: args.cluster_secret_file.clone(),
            }
            .load()?,
        );
    match args.command {
        AdminCommand::Status => status(&endpoints, args.json).await,
        AdminCommand::AddNode { id, addr } => {
            let reply = endpoints
                .add_node(id, addr)
                .await
                .with_context(|| format!("cannot add controller node {id}"))?;
            print_membership(&reply, args.json)
        }
        AdminCommand::RemoveNode { id } => {
            let reply = endpoints
                .remove_node(id)
                .await
                .with_context(|| format!("cannot remove controller node {id}"))?;
            print_membership(&reply, args.json)
        }
    }
}

/// Asks the given controllers for the membership, then every member for its own status.
async fn status(endpoints: &ControllerEndpoints, as_json: bool) -> anyhow::Result<()> {
    let mut first: Option<NodeStatus> = None;
    let mut errors = Vec::new();
    for addr in endpoints.addrs() {
        match endpoints.status_of(addr).await {
            Ok(status) => {
                first = Some(status);
                break;
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let Some(first) = first else {
        anyhow::bail!("no controller answered: {}", errors.join("; "));
    };
    let mut members: Vec<(u64, String, bool)> = first
        .voters
        .iter()
        .map(|(id, addr)| (*id, addr.clone(), true))
        .chain(first.learners.iter().map(|(id, a)| (*id, a.clone(), false)))
        .collect();
    members.sort();
    let mut rows = Vec::new();
    for (id, addr, voter) in members {
        let status = endpoints.status_of(&addr).await;
        rows.push((id, addr, voter, status));
    }

    if as_json {
        let nodes: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, addr, voter, status)| match status {
                Ok(s) => json!({"id": id, "addr": addr, "voter": voter, "reachable": true,
                    "role": s.role, "term": s.term, "leader": s.leader,
                    "applied_index": s.applied_index, "last_log_index": s.last_log_index,
                    "snapshot_index": s.snapshot_index}),
                Err(e) => json!({"id": id, "addr": addr, "voter": voter, "reachable": false,
                    "error": e.to_string()}),
            })
            .collect();
        let brokers: Vec<serde_json::Value> = first
            .brokers
            .iter()
            .map(|b| json!({"id": b.id, "addr": b.addr, "live": b.live}))
            .collect();
        print_json(&json!({
            "leader": first.leader,
            "leader_addr": first.leader_addr,
            "cluster_id": first.cluster_id,
            "nodes": nodes,
            "brokers": brokers,
        }))?;
        return Ok(());
    }
    let brokers = first
        .brokers
        .iter()
        .map(|b| {
            format!(
                "{} {}{}",
                b.id,
                b.addr,
                if b.live { "" } else { " (expired)" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = format!(
        "leader      {}\ncluster id  {}\nbrokers     {}\n\n",
        match (&first.leader, &first.leader_addr) {
            (Some(id), Some(addr)) => format!("{id} ({addr})"),
            (Some(id), None) => id.to_string(),
            _ => "none".to_string(),
        },
        or_dash(first.cluster_id.as_deref()),
        if brokers.is_empty() {
            "-".to_string()
        } else {
            brokers
        },
    );
    let mut table = Table::new(&[
        "NODE", "ADDR", "VOTER", "ROLE", "TERM", "APPLIED", "SNAPSHOT",
    ])
    .numeric(&["NODE", "TERM", "APPLIED", "SNAPSHOT"]);
    for (id, addr, voter, status) in rows {
        let voter = if voter { "yes" } else { "learner" }.to_string();
        match status {
            Ok(s) => table.row(vec![
                id.to_string(),
                addr,
                voter,
                s.role,
                s.term.to_string(),
                s.applied_index.to_string(),
                or_dash(s.snapshot_index),
            ]),
            Err(_) => table.row(vec![
                id.to_string(),
                addr,
                voter,
                "unreachable".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        }
    }
    text.push_str(&table.render());
    print_text(&text)?;
    Ok(())
}

fn print_membership(reply: &MembershipReply, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        print_json(
            &json!({"index": reply.index, "voters": reply.voters, "learners": reply.learners}),
        )?;
        return Ok(());
    }
    let list = |m: &std::collections::BTreeMap<u64, String>| {
        m.iter()
            .map(|(id, addr)| format!("{id}={addr}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    print_text(&format!(
        "voters    {}\nlearners  {}\n",
        list(&reply.voters),
        or_dash(Some(list(&reply.learners)).filter(|s| !s.is_empty())),
    ))?;
    Ok(())
}
