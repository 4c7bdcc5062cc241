//! Earlier snapshot layouts, so a data directory written by an older build still starts.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ControllerState;
use super::acls::AclRegistry;
use super::archive::ArchiveProgress;
use super::broker::BrokerLease;
use super::condemned::CondemnedObjects;
use super::group::GroupRegistry;
use super::lifecycle::Lifecycle;
use super::live_history::LiveBrokerHistory;
use super::object::ObjectMeta;
use super::producer::{ProducerExpiryIndex, ProducerRegistry};
use super::topic::Topic;
use super::users::UserRegistry;
use crate::broker_config::BrokerConfigs;
use crate::command::BrokerInfo;
use crate::ids::TopicId;

/// Snapshot format 1: the state before consumer groups existed. Field order is the on-disk
/// order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV1 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
}

/// Snapshot format 2: format 1 plus consumer groups, before broker leases. Field order is
/// the on-disk order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV2 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    groups: GroupRegistry,
}

/// Snapshot format 3: format 2 plus broker leases, before the live broker history. Field
/// order is the on-disk order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV3 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    groups: GroupRegistry,
    broker_leases: BTreeMap<i32, BrokerLease>,
}

/// Snapshot format 9: format 8 plus ACLs, before transactions. Field order is the on-disk
/// order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV9 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    groups: GroupRegistry,
    broker_leases: BTreeMap<i32, BrokerLease>,
    live_history: LiveBrokerHistory,
    lifecycle: Lifecycle,
    condemned: CondemnedObjects,
    archives: BTreeMap<TopicId, ArchiveProgress>,
    users: UserRegistry,
    broker_configs: BrokerConfigs,
    acls: AclRegistry,
}

impl From<ControllerStateV9> for ControllerState {
    fn from(v9: ControllerStateV9) -> Self {
        ControllerState {
            cluster_id: v9.cluster_id,
            brokers: v9.brokers,
            topics: v9.topics,
            topic_names: v9.topic_names,
            objects: v9.objects,
            next_object_id: v9.next_object_id,
            clock_ms: v9.clock_ms,
            last_producer_sweep_ms: v9.last_producer_sweep_ms,
            producers: v9.producers,
            producer_expiry: v9.producer_expiry,
            groups: v9.groups,
            broker_leases: v9.broker_leases,
            live_history: v9.live_history,
            lifecycle: v9.lifecycle,
            condemned: v9.condemned,
            archives: v9.archives,
            users: v9.users,
            broker_configs: v9.broker_configs,
            acls: v9.acls,
            ..ControllerState::default()
        }
    }
}

/// Snapshot format 8: format 7 plus dynamic broker configs, before ACLs. Field order is the
/// on-disk order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV8 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    groups: GroupRegistry,
    broker_leases: BTreeMap<i32, BrokerLease>,
    live_history: LiveBrokerHistory,
    lifecycle: Lifecycle,
    condemned: CondemnedObjects,
    archives: BTreeMap<TopicId, ArchiveProgress>,
    users: UserRegistry,
    broker_configs: BrokerConfigs,
}

impl From<ControllerStateV8> for ControllerState {
    fn from(v8: ControllerStateV8) -> Self {
        ControllerState {
            cluster_id: v8.cluster_id,
            brokers: v8.brokers,
            topics: v8.topics,
            topic_names: v8.topic_names,
            objects: v8.objects,
            next_object_id: v8.next_object_id,
            clock_ms: v8.clock_ms,
            last_producer_sweep_ms: v8.last_producer_sweep_ms,
            producers: v8.producers,
            producer_expiry: v8.producer_expiry,
            groups: v8.groups,
            broker_leases: v8.broker_leases,
            live_history: v8.live_history,
            lifecycle: v8.lifecycle,
            condemned: v8.condemned,
            archives: v8.archives,
            users: v8.users,
            broker_configs: v8.broker_configs,
            ..ControllerState::default()
        }
    }
}

/// Snapshot format 7: format 6 plus SCRAM users, before dynamic broker configs. Field order
/// is the on-disk order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV7 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    groups: GroupRegistry,
    broker_leases: BTreeMap<i32, BrokerLease>,
    live_history: LiveBrokerHistory,
    lifecycle: Lifecycle,
    condemned: CondemnedObjects,
    archives: BTreeMap<TopicId, ArchiveProgress>,
    users: UserRegistry,
}

impl From<ControllerStateV7> for ControllerState {
    fn from(v7: ControllerStateV7) -> Self {
        ControllerState {
            cluster_id: v7.cluster_id,
            brokers: v7.brokers,
            topics: v7.topics,
            topic_names: v7.topic_names,
            objects: v7.objects,
            next_object_id: v7.next_object_id,
            clock_ms: v7.clock_ms,
            last_producer_sweep_ms: v7.last_producer_sweep_ms,
            producers: v7.producers,
            producer_expiry: v7.producer_expiry,
            groups: v7.groups,
            broker_leases: v7.broker_leases,
            live_history: v7.live_history,
            lifecycle: v7.lifecycle,
            condemned: v7.condemned,
            archives: v7.archives,
            users: v7.users,
            ..ControllerState::default()
        }
    }
}

/// Snapshot format 6: format 5 plus the collected orphans and the archive progress, before
/// SCRAM users. Field order is the on-disk order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV6 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    groups: GroupRegistry,
    broker_leases: BTreeMap<i32, BrokerLease>,
    live_history: LiveBrokerHistory,
    lifecycle: Lifecycle,
    condemned: CondemnedObjects,
    archives: BTreeMap<TopicId, ArchiveProgress>,
}

impl From<ControllerStateV6> for ControllerState {
    fn from(v6: ControllerStateV6) -> Self {
        ControllerState {
            cluster_id: v6.cluster_id,
            brokers: v6.brokers,
            topics: v6.topics,
            topic_names: v6.topic_names,
            objects: v6.objects,
            next_object_id: v6.next_object_id,
            clock_ms: v6.clock_ms,
            last_producer_sweep_ms: v6.last_producer_sweep_ms,
            producers: v6.producers,
            producer_expiry: v6.producer_expiry,
            groups: v6.groups,
            broker_leases: v6.broker_leases,
            live_history: v6.live_history,
            lifecycle: v6.lifecycle,
            condemned: v6.condemned,
            archives: v6.archives,
            ..ControllerState::default()
        }
    }
}

/// Snapshot format 5: format 4 plus the storage lifecycle, before collected orphans were
/// remembered. Field order is the on-disk order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV5 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    groups: GroupRegistry,
    broker_leases: BTreeMap<i32, BrokerLease>,
    live_history: LiveBrokerHistory,
    lifecycle: Lifecycle,
}

impl From<ControllerStateV5> for ControllerState {
    fn from(v5: ControllerStateV5) -> Self {
        ControllerState {
            cluster_id: v5.cluster_id,
            brokers: v5.brokers,
            topics: v5.topics,
            topic_names: v5.topic_names,
            objects: v5.objects,
            next_object_id: v5.next_object_id,
            clock_ms: v5.clock_ms,
            last_producer_sweep_ms: v5.last_producer_sweep_ms,
            producers: v5.producers,
            producer_expiry: v5.producer_expiry,
            groups: v5.groups,
            broker_leases: v5.broker_leases,
            live_history: v5.live_history,
            lifecycle: v5.lifecycle,
            ..ControllerState::default()
        }
    }
}

/// Snapshot format 4: format 3 plus the live broker history, before the storage lifecycle.
/// Field order is the on-disk order and must not change.
#[derive(Debug, Deserialize)]
pub struct ControllerStateV4 {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    groups: GroupRegistry,
    broker_leases: BTreeMap<i32, BrokerLease>,
    live_history: LiveBrokerHistory,
}

impl From<ControllerStateV4> for ControllerState {
    fn from(v4: ControllerStateV4) -> Self {
        let lifecycle = Lifecycle::derived_from(&v4.objects, v4.clock_ms);
        ControllerState {
            cluster_id: v4.cluster_id,
            brokers: v4.brokers,
            topics: v4.topics,
            topic_names: v4.topic_names,
            objects: v4.objects,
            next_object_id: v4.next_object_id,
            clock_ms: v4.clock_ms,
            last_producer_sweep_ms: v4.last_producer_sweep_ms,
            producers: v4.producers,
            producer_expiry: v4.producer_expiry,
            groups: v4.groups,
            broker_leases: v4.broker_leases,
            live_history: v4.live_history,
            lifecycle,
            ..ControllerState::default()
        }
    }
}

impl From<ControllerStateV3> for ControllerState {
    fn from(v3: ControllerStateV3) -> Self {
        let lifecycle = Lifecycle::derived_from(&v3.objects, v3.clock_ms);
        let mut state = ControllerState {
            cluster_id: v3.cluster_id,
            brokers: v3.brokers,
            topics: v3.topics,
            topic_names: v3.topic_names,
            objects: v3.objects,
            next_object_id: v3.next_object_id,
            clock_ms: v3.clock_ms,
            last_producer_sweep_ms: v3.last_producer_sweep_ms,
            producers: v3.producers,
            producer_expiry: v3.producer_expiry,
            groups: v3.groups,
            broker_leases: v3.broker_leases,
            live_history: Default::default(),
            lifecycle,
            ..ControllerState::default()
        };
        // Every replica loads the same snapshot, so each starts the history identically.
        state.record_live_set();
        state
    }
}

impl From<ControllerStateV2> for ControllerState {
    fn from(v2: ControllerStateV2) -> Self {
        let lifecycle = Lifecycle::derived_from(&v2.objects, v2.clock_ms);
        let mut state = ControllerState {
            cluster_id: v2.cluster_id,
            brokers: v2.brokers,
            topics: v2.topics,
            topic_names: v2.topic_names,
            objects: v2.objects,
            next_object_id: v2.next_object_id,
            clock_ms: v2.clock_ms,
            last_producer_sweep_ms: v2.last_producer_sweep_ms,
            producers: v2.producers,
            producer_expiry: v2.producer_expiry,
            groups: v2.groups,
            broker_leases: Default::default(),
            live_history: Default::default(),
            lifecycle,
            ..ControllerState::default()
        };
        state.all_brokers_live();
        state.record_live_set();
        state
    }
}

impl From<ControllerStateV1> for ControllerState {
    fn from(v1: ControllerStateV1) -> Self {
        let lifecycle = Lifecycle::derived_from(&v1.objects, v1.clock_ms);
        let mut state = ControllerState {
            cluster_id: v1.cluster_id,
            brokers: v1.brokers,
            topics: v1.topics,
            topic_names: v1.topic_names,
            objects: v1.objects,
            next_object_id: v1.next_object_id,
            clock_ms: v1.clock_ms,
            last_producer_sweep_ms: v1.last_producer_sweep_ms,
            producers: v1.producers,
            producer_expiry: v1.producer_expiry,
            groups: Default::default(),
            broker_leases: Default::default(),
            live_history: Default::default(),
            lifecycle,
            ..ControllerState::default()
        };
        state.all_brokers_live();
        state.record_live_set();
        state
    }
}
