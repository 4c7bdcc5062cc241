//! The group state machine under an injected clock: every step takes `now` explicitly, so
//! timeouts are tested by passing later times, never by sleeping.

mod admin;
mod join;
mod membership;
mod static_members;

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::oneshot;

use super::config::GroupConfig;
use super::error::CoordinatorError;
use super::group::ClassicGroup;
use super::join::JoinRequest;
use super::outcome::{JoinReply, JoinResult, SyncReply, SyncResult};
use super::state::GroupState;
use super::store_request::{StorePurpose, StoreRequest};
use super::sync::SyncRequest;

const SESSION: u64 = 10_000;
const REBALANCE: u64 = 30_000;
const DELAY: u64 = 3_000;

fn config(initial_delay_ms: u64) -> Arc<GroupConfig> {
    Arc::new(GroupConfig {
        initial_rebalance_delay_ms: initial_delay_ms,
        max_size: 4,
        ..GroupConfig::default()
    })
}

/// A consumer-protocol subscription (version 1) to `topics`.
fn subscription(topics: &[&str]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    buf.put_i32(topics.len() as i32);
    for t in topics {
        buf.put_i16(t.len() as i16);
        buf.put_slice(t.as_bytes());
    }
    buf.put_i32(-1); // no user data
    buf.put_i32(0); // no owned partitions
    buf.freeze()
}

fn protocols(names: &[&str]) -> Vec<(String, Bytes)> {
    names
        .iter()
        .map(|n| (n.to_string(), subscription(&["orders"])))
        .collect()
}

fn join_request(member_id: &str, instance_id: Option<&str>) -> JoinRequest {
    JoinRequest {
        member_id: member_id.to_string(),
        instance_id: instance_id.map(str::to_string),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols(&["range"]),
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

fn ready(reply: JoinReply) -> JoinResult {
    match reply {
        JoinReply::Ready(result) => result,
        JoinReply::Parked(_) => panic!("expected an immediate answer, the join was parked"),
    }
}

fn parked(reply: JoinReply) -> oneshot::Receiver<JoinResult> {
    match reply {
        JoinReply::Parked(rx) => rx,
        JoinReply::Ready(result) => panic!("expected a parked join, got {result:?}"),
    }
}

fn sync_parked(reply: SyncReply) -> oneshot::Receiver<SyncResult> {
    match reply {
        SyncReply::Parked(rx) => rx,
        SyncReply::Ready(result) => panic!("expected a parked sync, got {result:?}"),
    }
}

fn sync_ready(reply: SyncReply) -> SyncResult {
    match reply {
        SyncReply::Ready(result) => result,
        SyncReply::Parked(_) => panic!("expected an immediate sync answer"),
    }
}

/// The answer a parked request has received, if any.
fn answered<T>(rx: &mut oneshot::Receiver<T>) -> Option<T> {
    rx.try_recv().ok()
}

fn answer<T: std::fmt::Debug>(rx: &mut oneshot::Receiver<T>) -> T {
    answered(rx).expect("the parked request has been answered")
}

/// v4+ first join: MEMBER_ID_REQUIRED with a fresh id, then the real join (parked).
fn join_new(group: &mut ClassicGroup, now: u64) -> (String, oneshot::Receiver<JoinResult>) {
    let first = ready(group.join(join_request("", None), now));
    assert_eq!(first.error, Some(CoordinatorError::MemberIdRequired));
    assert!(
        first.member_id.starts_with("client-"),
        "{}",
        first.member_id
    );
    let rx = parked(group.join(join_request(&first.member_id, None), now));
    (first.member_id, rx)
}

fn sync_request(member_id: &str, generation: i32, assignments: &[(&str, &str)]) -> SyncRequest {
    SyncRequest {
        member_id: member_id.to_string(),
        instance_id: None,
        generation,
        protocol_type: None,
        protocol_name: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
            .collect(),
    }
}

/// Stores the group asked for, all succeeding.
fn complete_stores(group: &mut ClassicGroup, now: u64) -> Vec<StoreRequest> {
    let stores = group.take_stores();
    for store in &stores {
        group.on_store_done(&store.purpose, Ok(()), now);
    }
    stores
}

/// A Stable group of generation 1 with members joined in order; the first is the leader
/// and each member's assignment is "a-<index>".
fn stable_group(member_count: usize) -> (ClassicGroup, Vec<String>) {
    let mut group = ClassicGroup::new("g", config(0));
    let mut joins = Vec::new();
    for _ in 0..member_count {
        joins.push(join_new(&mut group, 0));
    }
    // With no delay the initial rebalance still takes a timer round per extension.
    for _ in 0..member_count {
        group.on_timer(0);
    }
    let ids: Vec<String> = joins.iter().map(|(id, _)| id.clone()).collect();
    for (_, rx) in &mut joins {
        let result = answer(rx);
        assert_eq!(result.generation_id, 1);
    }
    let assignments: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), format!("a-{i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = assignments
        .iter()
        .map(|(m, a)| (m.as_str(), a.as_str()))
        .collect();
    let leader = group.leader().expect("leader").to_string();
    let mut syncs = Vec::new();
    for id in &ids {
        let sent = if *id == leader { pairs.as_slice() } else { &[] };
        syncs.push(sync_parked(group.sync(sync_request(id, 1, sent), 0)));
    }
    complete_stores(&mut group, 0);
    for rx in &mut syncs {
        assert_eq!(answer(rx).error, None);
    }
    assert_eq!(group.state(), GroupState::Stable);
    (group, ids)
}

fn store_purposes(stores: &[StoreRequest]) -> Vec<StorePurpose> {
    stores.iter().map(|s| s.purpose.clone()).collect()
}
