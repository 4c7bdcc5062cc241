//! Sends each decoded request to its handler (one file per Kafka API in `handlers/`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use skiff_protocol::DecodedRequest;

use crate::context::BrokerContext;
use crate::handlers;
use crate::kafka_error::unsupported_version_code;
use crate::reply::{ClientInfo, Reply, ReplyFuture};
use crate::security::authorizer::Caller;

/// Starts handling a request. Work that must happen in arrival order (appending produce data)
/// is done before this returns; the rest runs in the returned future, concurrently with the
/// connection's later requests, whose replies are still written in order.
pub async fn start(
    ctx: &Arc<BrokerContext>,
    request: DecodedRequest,
    peer: SocketAddr,
    caller: &Caller,
) -> ReplyFuture {
    let version = request.api_version;
    if let RequestKind::Produce(req) = request.body {
        return handlers::produce::start(ctx, caller, req, version).await;
    }
    let caller = caller.clone();
    let ctx = ctx.clone();
    let client = || ClientInfo {
        client_id: request
            .client_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        host: format!("/{}", peer.ip()),
    };
    match request.body {
        RequestKind::ApiVersions(req) => Box::pin(std::future::ready(Reply::Response(
            ResponseKind::ApiVersions(handlers::api_versions::handle(&req)),
        ))),
        RequestKind::Fetch(req) => run(async move {
            ResponseKind::Fetch(handlers::fetch::handle(&ctx, &caller, req, version).await)
        }),
        RequestKind::ListOffsets(req) => run(async move {
            ResponseKind::ListOffsets(
                handlers::list_offsets::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::Metadata(req) => run(async move {
            ResponseKind::Metadata(handlers::metadata::handle(&ctx, &caller, req, version).await)
        }),
        RequestKind::CreateTopics(req) => run(async move {
            ResponseKind::CreateTopics(
                handlers::create_topics::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::DeleteTopics(req) => run(async move {
            ResponseKind::DeleteTopics(
                handlers::delete_topics::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::DeleteRecords(req) => run(async move {
            ResponseKind::DeleteRecords(
                handlers::delete_records::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::CreatePartitions(req) => run(async move {
            ResponseKind::CreatePartitions(
                handlers::create_partitions::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::AddPartitionsToTxn(req) => run(async move {
            ResponseKind::AddPartitionsToTxn(
                handlers::add_partitions_to_txn::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::AddOffsetsToTxn(req) => run(async move {
            ResponseKind::AddOffsetsToTxn(
                handlers::add_offsets_to_txn::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::TxnOffsetCommit(req) => run(async move {
            ResponseKind::TxnOffsetCommit(
                handlers::txn_offset_commit::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::EndTxn(req) => run(async move {
            ResponseKind::EndTxn(handlers::end_txn::handle(&ctx, &caller, req, version).await)
        }),
        RequestKind::InitProducerId(req) => run(async move {
            ResponseKind::InitProducerId(
                handlers::init_producer_id::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::DescribeConfigs(req) => run(async move {
            ResponseKind::DescribeConfigs(handlers::describe_configs::handle(
                &ctx, &caller, req, version,
            ))
        }),
        RequestKind::IncrementalAlterConfigs(req) => run(async move {
            ResponseKind::IncrementalAlterConfigs(
                handlers::incremental_alter_configs::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::AlterConfigs(req) => run(async move {
            ResponseKind::AlterConfigs(
                handlers::alter_configs::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::ElectLeaders(req) => run(async move {
            ResponseKind::ElectLeaders(handlers::elect_leaders::handle(
                &ctx, &caller, &req, version,
            ))
        }),
        RequestKind::ListPartitionReassignments(req) => run(async move {
            ResponseKind::ListPartitionReassignments(
                handlers::list_partition_reassignments::handle(&ctx, &caller, &req, version),
            )
        }),
        RequestKind::AlterPartitionReassignments(req) => run(async move {
            ResponseKind::AlterPartitionReassignments(
                handlers::alter_partition_reassignments::handle(&ctx, &caller, &req, version),
            )
        }),
        RequestKind::DescribeProducers(req) => run(async move {
            ResponseKind::DescribeProducers(handlers::describe_producers::handle(
                &ctx, &caller, &req, version,
            ))
        }),
        RequestKind::DescribeLogDirs(req) => run(async move {
            ResponseKind::DescribeLogDirs(handlers::describe_log_dirs::handle(
                &ctx, &caller, req, version,
            ))
        }),
        RequestKind::DescribeCluster(req) => run(async move {
            ResponseKind::DescribeCluster(handlers::describe_cluster::handle(
                &ctx, &caller, &req, version,
            ))
        }),
        RequestKind::FindCoordinator(req) => run(async move {
            ResponseKind::FindCoordinator(handlers::find_coordinator::handle(
                &ctx, &caller, req, version,
            ))
        }),
        RequestKind::JoinGroup(req) => {
            let client = client();
            run(async move {
                ResponseKind::JoinGroup(
                    handlers::join_group::handle(&ctx, &caller, req, version, &client).await,
                )
            })
        }
        RequestKind::SyncGroup(req) => run(async move {
            ResponseKind::SyncGroup(handlers::sync_group::handle(&ctx, &caller, req, version).await)
        }),
        RequestKind::Heartbeat(req) => run(async move {
            ResponseKind::Heartbeat(handlers::heartbeat::handle(&ctx, &caller, &req, version))
        }),
        RequestKind::LeaveGroup(req) => run(async move {
            ResponseKind::LeaveGroup(handlers::leave_group::handle(&ctx, &caller, &req, version))
        }),
        RequestKind::OffsetCommit(req) => run(async move {
            ResponseKind::OffsetCommit(
                handlers::offset_commit::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::OffsetFetch(req) => run(async move {
            ResponseKind::OffsetFetch(handlers::offset_fetch::handle(&ctx, &caller, req, version))
        }),
        RequestKind::DescribeGroups(req) => run(async move {
            ResponseKind::DescribeGroups(handlers::describe_groups::handle(
                &ctx, &caller, &req, version,
            ))
        }),
        RequestKind::ListGroups(req) => run(async move {
            ResponseKind::ListGroups(handlers::list_groups::handle(&ctx, &caller, &req, version))
        }),
        RequestKind::DeleteGroups(req) => run(async move {
            ResponseKind::DeleteGroups(
                handlers::delete_groups::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::OffsetDelete(req) => run(async move {
            ResponseKind::OffsetDelete(
                handlers::offset_delete::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::DescribeUserScramCredentials(req) => run(async move {
            ResponseKind::DescribeUserScramCredentials(
                handlers::describe_user_scram_credentials::handle(&ctx, &caller, &req, version),
            )
        }),
        RequestKind::AlterUserScramCredentials(req) => run(async move {
            ResponseKind::AlterUserScramCredentials(
                handlers::alter_user_scram_credentials::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::CreateAcls(req) => run(async move {
            ResponseKind::CreateAcls(
                handlers::create_acls::handle(&ctx, &caller, req, version).await,
            )
        }),
        RequestKind::DescribeAcls(req) => run(async move {
            ResponseKind::DescribeAcls(handlers::describe_acls::handle(
                &ctx, &caller, &req, version,
            ))
        }),
        RequestKind::DeleteAcls(req) => run(async move {
            ResponseKind::DeleteAcls(
                handlers::delete_acls::handle(&ctx, &caller, req, version).await,
            )
        }),
        // SASL listeners answer these in the connection (connection_sasl); elsewhere they
        // get Kafka's ILLEGAL_SASL_STATE.
        RequestKind::SaslHandshake(req) => {
            let (response, _) = handlers::sasl_handshake::handle(None, &req, version);
            Box::pin(std::future::ready(Reply::Response(
                ResponseKind::SaslHandshake(response),
            )))
        }
        RequestKind::SaslAuthenticate(req) => {
            let (response, _) = handlers::sasl_authenticate::handle(&ctx, None, &req, peer);
            Box::pin(std::future::ready(Reply::Response(
                ResponseKind::SaslAuthenticate(response),
            )))
        }
        // decode_request only lets advertised APIs through, so this arm means the table in
        // skiff-protocol lists an API without a handler here.
        _ => Box::pin(std::future::ready(Reply::Error(unsupported_version_code()))),
    }
}

fn run(response: impl Future<Output = ResponseKind> + Send + 'static) -> ReplyFuture {
    Box::pin(async move { Reply::Response(response.await) })
}
