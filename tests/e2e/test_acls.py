"""ACLs with confluent-kafka's admin API over SASL_PLAINTEXT on `skiff dev --authorizer acl`:
CreateAcls/DescribeAcls/DeleteAcls, WRITE on one topic and not another, consuming needing READ
on the topic and the group, PREFIXED and DENY rules, and a deleted ACL refusing the next request
of a connection that is already open."""

from __future__ import annotations

import json
import uuid

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from harness.skiff_cli import cli_ok, run_cli
from harness.stores import FILE_STORE

ADMIN = ("admin", "admin-secret")
ALICE = ("alice", "alice-secret")
TIMEOUT_S = 30


def sasl(skiff, user: tuple[str, str]) -> dict:
    return {
        "bootstrap.servers": skiff.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": user[0],
        "sasl.password": user[1],
    }


def binding(resource: ResourceType, name: str, operation: AclOperation, *,
            pattern: ResourcePatternType = ResourcePatternType.LITERAL,
            permission: AclPermissionType = AclPermissionType.ALLOW) -> AclBinding:
    return AclBinding(resource, name, pattern, "User:alice", "*", operation, permission)


def create_acls(admin: AdminClient, *bindings: AclBinding) -> None:
    for future in admin.create_acls(list(bindings)).values():
        future.result(TIMEOUT_S)


def produce_error(producer: Producer, topic: str) -> KafkaError | None:
    """Produces one record and returns its delivery error (None when it was written)."""
    outcome: list[KafkaError | None] = []
    producer.produce(topic, b"v", partition=0, on_delivery=lambda error, _m: outcome.append(error))
    producer.flush(TIMEOUT_S)
    assert len(outcome) == 1, "the record was reported"
    return outcome[0]


def first_consumer_error(config: dict, topic: str, group: str) -> KafkaError | None:
    """Subscribes as `group` and returns the first error, or None once a record arrives."""
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.subscribe([topic])
        for message in iter(lambda: consumer.poll(1.0), "never"):
            if message is None:
                continue
            return message.error()
    finally:
        consumer.close()


def test_acls_decide_what_a_user_may_do(skiff_factory, topic_name: str) -> None:
    skiff = skiff_factory(
        FILE_STORE,
        "--security-protocol", "SASL_PLAINTEXT",
        "--authorizer", "acl",
        "--super-users", "User:admin",
        "--add-scram", f"SCRAM-SHA-256=[name={ADMIN[0]},password={ADMIN[1]}]",
        "--add-scram", f"SCRAM-SHA-256=[name={ALICE[0]},password={ALICE[1]}]",
    )
    admin = AdminClient(sasl(skiff, ADMIN))
    a, b = f"{topic_name}-a", f"{topic_name}-b"
    logs, secret = f"{topic_name}-logs-open", f"{topic_name}-logs-secret"
    topics = [NewTopic(t, num_partitions=1, replication_factor=1) for t in (a, b, logs, secret)]
    for future in admin.create_topics(topics).values():
        future.result(TIMEOUT_S)

    # WRITE on A only, WRITE on every topic under the logs prefix except one DENY.
    create_acls(
        admin,
        binding(ResourceType.TOPIC, a, AclOperation.WRITE),
        binding(ResourceType.TOPIC, f"{topic_name}-logs-", AclOperation.WRITE, pattern=ResourcePatternType.PREFIXED),
        binding(ResourceType.TOPIC, secret, AclOperation.WRITE, permission=AclPermissionType.DENY),
    )
    described = admin.describe_acls(AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, "User:alice", None, AclOperation.ANY, AclPermissionType.ANY,
    )).result(TIMEOUT_S)
    assert {(d.name, d.resource_pattern_type, d.permission_type) for d in described} == {
        (a, ResourcePatternType.LITERAL, AclPermissionType.ALLOW),
        (f"{topic_name}-logs-", ResourcePatternType.PREFIXED, AclPermissionType.ALLOW),
        (secret, ResourcePatternType.LITERAL, AclPermissionType.DENY),
    }

    alice = sasl(skiff, ALICE)
    producer = Producer({**alice, "linger.ms": 0, "retries": 0})
    assert produce_error(producer, a) is None
    assert produce_error(producer, logs) is None, "the PREFIXED rule allows it"
    for refused in (b, secret):
        error = produce_error(producer, refused)
        assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (refused, error)

    # Consuming needs READ on the topic and on the group.
    group = f"g-{uuid.uuid4().hex[:8]}"
    error = first_consumer_error(alice, a, group)
    assert error is not None and error.code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED,
    ), error
    create_acls(admin, binding(ResourceType.TOPIC, a, AclOperation.READ))
    error = first_consumer_error(alice, a, group)
    assert error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, error
    create_acls(admin, binding(ResourceType.GROUP, "g-", AclOperation.READ, pattern=ResourcePatternType.PREFIXED))
    assert first_consumer_error(alice, a, group) is None, "a record arrives"

    # Deleting the WRITE ACL refuses the next record on the producer's open connection.
    removed = admin.delete_acls([AclBindingFilter(
        ResourceType.TOPIC, a, ResourcePatternType.MATCH, "User:alice", None, AclOperation.WRITE, AclPermissionType.ALLOW,
    )])
    [(_, future)] = removed.items()
    assert [d.name for d in future.result(TIMEOUT_S)] == [a]
    error = produce_error(producer, a)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    assert produce_error(producer, logs) is None, "other ACLs still hold"


def test_skiff_acl_commands_create_list_and_delete(skiff_factory, skiff_bin, topic_name: str) -> None:
    # The CLI has no client security settings yet: an anonymous super user on PLAINTEXT.
    skiff = skiff_factory(FILE_STORE, "--authorizer", "acl", "--super-users", "User:ANONYMOUS")
    cli_ok(skiff_bin, skiff.bootstrap, "acl", "create", "--allow-principal", "User:alice",
           "--operation", "Write", "--operation", "Describe", "--topic", topic_name)
    cli_ok(skiff_bin, skiff.bootstrap, "acl", "add", "--deny-principal", "User:bob",
           "--operation", "Read", "--group", "billing-", "--resource-pattern-type", "prefixed")
    listed = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "acl", "list", "--json"))["acls"]
    assert sorted((a["resource_type"], a["resource_name"], a["pattern_type"], a["principal"], a["operation"],
                   a["permission"]) for a in listed) == [
        ("GROUP", "billing-", "PREFIXED", "User:bob", "READ", "DENY"),
        ("TOPIC", topic_name, "LITERAL", "User:alice", "DESCRIBE", "ALLOW"),
        ("TOPIC", topic_name, "LITERAL", "User:alice", "WRITE", "ALLOW"),
    ]
    matching = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "acl", "list", "--group", "billing-eu",
                                 "--resource-pattern-type", "match", "--json"))["acls"]
    assert [a["principal"] for a in matching] == ["User:bob"], "MATCH finds the prefix"

    bad = run_cli(skiff_bin, skiff.bootstrap, "acl", "create", "--allow-principal", "User:alice",
                  "--operation", "Fly", "--topic", topic_name)
    assert bad.returncode != 0 and b"unknown operation" in bad.stderr, bad.stderr
    bad = run_cli(skiff_bin, skiff.bootstrap, "acl", "create", "--allow-principal", "alice",
                  "--operation", "Read", "--topic", topic_name)
    assert bad.returncode != 0 and b"INVALID_REQUEST" in bad.stderr.upper().replace(b" ", b"_"), bad.stderr

    deleted = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "acl", "remove", "--allow-principal", "User:alice",
                                "--operation", "Write", "--topic", topic_name, "--json"))["deleted"]
    assert [a["operation"] for a in deleted] == ["WRITE"]
    remaining = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "acl", "list", "--topic", topic_name, "--json"))
    assert [a["operation"] for a in remaining["acls"]] == ["DESCRIBE"]

    # Without an authorizer the ACL APIs answer SECURITY_DISABLED, readably.
    open_skiff = skiff_factory(FILE_STORE)
    disabled = run_cli(skiff_bin, open_skiff.bootstrap, "acl", "list")
    assert disabled.returncode != 0 and b"SECURITY_DISABLED" in disabled.stderr.upper().replace(b" ", b"_"), (
        disabled.stderr
    )
