"""`skiff trigger` and `skiff dev --trigger-config`: Lambda functions on Kafka topics.

The real path runs the README's example function (lambda_runtime) under `cargo lambda watch`;
the failure paths run against a fake Lambda (a small HTTP server speaking the Invoke API) that
the test controls. Records are written by a stock client (confluent-kafka); committed offsets
are read back with the stock admin API and `skiff group describe`.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Producer

from harness import confluent_client, group_admin
from harness.deadlines import wait_until
from harness.lambda_functions import (
    EXAMPLE_FUNCTION,
    Answer,
    CargoLambdaWatch,
    FakeLambda,
    Invocation,
    TriggerProcess,
    cargo_lambda_bin,
    function_error,
    ok,
    printed_orders,
    run_trigger_expecting_failure,
)
from harness.server_process import free_port
from harness.skiff_cli import cli_ok
from harness.stores import FILE_STORE

WAIT_S = 90.0
# Rebalance as soon as a trigger joins instead of after skiff's 3 s default.
DEV_ARGS = ("--group-initial-rebalance-delay-ms", "0")
# Skiff's smallest session timeout: a killed trigger's partitions move on within seconds.
FAST_SESSION = ("--kafka-property", "session.timeout.ms=6000")


@pytest.fixture
def fake_lambda():
    fake = FakeLambda().start()
    yield fake
    fake.stop()


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None, list, int | None]]) -> dict[int, int]:
    """Writes (key, value, headers, partition) records with a stock producer; returns the end
    offset of each partition written."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    ends: dict[int, int] = {}
    errors: list[str] = []

    def delivered(error, message) -> None:
        if error is not None:
            errors.append(str(error))
        else:
            ends[message.partition()] = max(ends.get(message.partition(), 0), message.offset() + 1)

    for key, value, headers, partition in records:
        kwargs = {"key": key, "value": value, "headers": headers, "on_delivery": delivered}
        if partition is not None:
            kwargs["partition"] = partition
        producer.produce(topic, **kwargs)
    assert producer.flush(30) == 0, "records left unacknowledged"
    assert not errors, errors
    return ends


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    return group_admin.committed_positions(confluent_client, bootstrap, group, topic)


def wait_committed(bootstrap: str, group: str, topic: str, ends: dict[int, int]) -> None:
    wait_until(lambda: committed(bootstrap, group, topic) == ends or None, WAIT_S,
               f"group {group} to commit {ends} on {topic}")  # fmt: skip


def trigger_args(bootstrap: str, topic: str, group: str, endpoint: str, function: str, *extra: str) -> list[str]:
    """The flags every test gives; a short batching window unless `extra` sets one."""
    window = [] if "--batching-window-ms" in extra else ["--batching-window-ms", "100"]
    return ["--bootstrap", bootstrap, "--topic", topic, "--group", group, "--function-name", function,
            "--lambda-endpoint", endpoint, *window, *FAST_SESSION, *extra]  # fmt: skip


def start_trigger(skiff_bin: Path, tmp_path: Path, args: list[str], name: str = "trigger") -> TriggerProcess:
    return TriggerProcess(skiff_bin, tmp_path / f"{name}.log", args).start()


def read_topic(bootstrap: str, topic: str, partitions: int) -> list:
    ends = {p: high for p, (_, high) in confluent_client.watermarks(bootstrap, topic, list(range(partitions))).items()}
    return confluent_client.consume(bootstrap, topic, ends, 30)


def headers_of(record) -> dict[str, bytes]:
    return {k: v for k, v in record.headers}


def metric(url: str, name: str, **labels: str) -> float:
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---- the real Lambda runtime: the example function under `cargo lambda watch` ----


@pytest.fixture(scope="module")
def example_function(tmp_path_factory: pytest.TempPathFactory):
    binary = cargo_lambda_bin()
    if binary is None:
        message = "cargo-lambda is not installed (tests/run installs it into .venv-cargo-lambda)"
        if os.environ.get("SKIFF_REQUIRE_CARGO_LAMBDA"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    watch = CargoLambdaWatch(binary, tmp_path_factory.mktemp("lambda") / "cargo-lambda-watch.log")
    try:
        # The first invocation compiles the function if tests/run's build did not already.
        watch.wait_ready(EXAMPLE_FUNCTION, timeout_s=600)
        yield watch
    finally:
        watch.stop()


@pytest.mark.timeout(600)
def test_the_example_function_gets_every_record_in_order_and_offsets_are_committed_after_success(
    skiff_factory, skiff_bin: Path, tmp_path: Path, example_function: CargoLambdaWatch
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "orders", 3)
    confluent_client.create_topic(skiff.bootstrap, "orders-failed", 1)
    records = []
    for i in range(300):
        value = b"not an order" if i in (40, 41) else json.dumps({"id": f"o-{i}", "amount": i / 10}).encode()
        records.append((f"customer-{i % 7}".encode(), value, [("source", b"e2e")], i % 3))
    ends = produce(skiff.bootstrap, "orders", records)
    log_start = len(example_function.log_text())

    trigger = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "orders", "orders-fn", example_function.endpoint, EXAMPLE_FUNCTION,
        "--batch-size", "40", "--report-batch-item-failures", "--maximum-retry-attempts", "1",
        "--on-failure-topic", "orders-failed"))  # fmt: skip
    wait_committed(skiff.bootstrap, "orders-fn", "orders", ends)

    # Every valid order reached the function; per partition the first sighting of each offset
    # comes in offset order (a partial failure re-invokes the records after the failed one).
    printed = printed_orders(example_function.log_text()[log_start:])
    seen: dict[int, list[int]] = {}
    for order in printed:
        assert order["topic"] == "orders"
        offsets = seen.setdefault(order["partition"], [])
        if order["offset"] not in offsets:
            offsets.append(order["offset"])
        assert order["key"] == f"customer-{int(order['order'][2:]) % 7}"
    for partition, offsets in seen.items():
        assert offsets == sorted(offsets), f"partition {partition} out of order: {offsets}"
    valid = {(i % 3, i // 3) for i in range(300) if i not in (40, 41)}
    assert {(p, o) for p, offsets in seen.items() for o in offsets} == valid

    # The two non-orders were reported as failed, retried once, then moved to the failure topic.
    failed = read_topic(skiff.bootstrap, "orders-failed", 1)
    assert sorted((headers_of(r)["skiff-trigger-source-partition"], headers_of(r)["skiff-trigger-source-offset"])
                  for r in failed) == [(b"1", b"13"), (b"2", b"13")]  # fmt: skip
    for record in failed:
        headers = headers_of(record)
        assert record.value == b"not an order"
        assert headers["source"] == b"e2e", "the record's own headers are kept"
        assert headers["skiff-trigger-condition"] == b"RetryAttemptsExhausted"
        assert headers["skiff-trigger-attempts"] == b"2"
        assert headers["skiff-trigger-source-topic"] == b"orders"
        assert headers["skiff-trigger-function"] == EXAMPLE_FUNCTION.encode()
        assert b"reported record 13" in headers["skiff-trigger-error"]

    # `skiff group describe` shows the trigger's group like any other, with nothing left.
    described = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "group", "describe", "orders-fn", "--json"))
    assert described["total_lag"] == 0, described
    assert len(described["members"]) == 1, described
    trigger.stop()


# ---- the event, and triggers inside `skiff dev` ----


@pytest.mark.parametrize("store", ["file", "s3"], indirect=True)
def test_dev_runs_triggers_from_a_file_and_sends_aws_self_managed_kafka_events(
    skiff_factory, store, fake_lambda: FakeLambda, tmp_path: Path
) -> None:
    config = tmp_path / "triggers.toml"
    config.write_text(
        f'lambda_endpoint = "{fake_lambda.endpoint}"\n'
        f'[kafka_properties]\n"session.timeout.ms" = "6000"\n'
        f'[[trigger]]\ntopics = ["events"]\ngroup = "events-fn"\nfunction_name = "fake-fn"\n'
        f"batch_size = 500\nbatching_window_ms = 200\n"
    )
    # The triggers start after the broker and check their topic exists: create it first.
    skiff = skiff_factory(store, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "events", 2)
    skiff.stop()
    skiff.extra_args += ["--trigger-config", str(config)]
    skiff.start()
    assert "trigger started" in skiff.log_path.read_text()

    records = [
        (b"k1", b"hello", [("h", bytes([104, 0x80, 0xFF]))], 0),
        (None, b"no key", [], 0),
        (b"tombstone", None, [], 1),
        (b"k2", bytes(range(256)), [("a", b"1"), ("a", b"2")], 1),
    ]
    ends = produce(skiff.bootstrap, "events", records)
    wait_committed(skiff.bootstrap, "events-fn", "events", ends)

    events = [i.event for i in fake_lambda.snapshot()]
    for event in events:
        assert event["eventSource"] == "SelfManagedKafka"
        assert event["bootstrapServers"] == skiff.bootstrap
        assert "eventSourceArn" not in event
        assert len(event["records"]) == 1, "one partition per invocation"
    by_offset = {(r["partition"], r["offset"]): r for e in events for rs in e["records"].values() for r in rs}
    assert set(by_offset) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    first = by_offset[(0, 0)]
    assert set(first) == {"topic", "partition", "offset", "timestamp", "timestampType", "key", "value", "headers"}
    assert first["topic"] == "events"
    assert first["timestampType"] == "CREATE_TIME"
    assert abs(first["timestamp"] - time.time() * 1000) < 120_000
    assert base64.b64decode(first["key"]) == b"k1"
    assert base64.b64decode(first["value"]) == b"hello"
    assert first["headers"] == [{"h": [104, -128, -1]}], "header bytes are signed, as Java's"
    assert "key" not in by_offset[(0, 1)], "a null key is left out"
    assert "value" not in by_offset[(1, 0)], "a null value is left out"
    assert base64.b64decode(by_offset[(1, 1)]["value"]) == bytes(range(256))
    assert by_offset[(1, 1)]["headers"] == [{"a": [49]}, {"a": [50]}]
    for event in events:
        for key, partition_records in event["records"].items():
            assert all(key == f"{r['topic']}-{r['partition']}" for r in partition_records)
    # Ctrl-C stops the triggers, then the broker, and exits 0 (checked by stop()).
    skiff.stop()


# ---- failure paths against a controllable function ----


def test_function_errors_then_success_are_retried_and_nothing_is_lost(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 2)
    fake_lambda.respond = lambda invocation, call: function_error("not yet") if call <= 3 else ok()
    ends = produce(skiff.bootstrap, "t", [(None, f"v{i}".encode(), [], i % 2) for i in range(100)])
    metrics_port = free_port()
    trigger = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "t", "g", fake_lambda.endpoint, "fake-fn",
        "--metrics-addr", f"127.0.0.1:{metrics_port}"))  # fmt: skip
    wait_committed(skiff.bootstrap, "g", "t", ends)
    invocations = fake_lambda.snapshot()
    assert fake_lambda.delivered() == {(i % 2, i // 2) for i in range(100)}
    # The failed invocations carried records that later ones delivered again, from the same offset.
    assert len(invocations) >= 5
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    assert metric(url, "skiff_trigger_invocation_errors_total", trigger="g", kind="function_error") == 3
    assert metric(url, "skiff_trigger_retries_total", trigger="g") >= 3
    assert metric(url, "skiff_trigger_records_delivered_total", trigger="g") == 100
    assert metric(url, "skiff_trigger_invocations_total", trigger="g") == len(invocations)
    assert "invocation failed: Unhandled" in trigger.log()
    # Lag per partition comes from librdkafka's statistics (every 5 s).
    wait_until(lambda: metric(url, "skiff_trigger_lag_records", trigger="g", topic="t", partition="0") == 0
               and "skiff_trigger_lag_records{" in urllib.request.urlopen(url).read().decode(), 30,
               "the lag gauge")  # fmt: skip
    trigger.stop()


def test_always_failing_records_go_to_the_failure_topic_after_n_attempts_and_offsets_move_on(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 1)
    confluent_client.create_topic(skiff.bootstrap, "t-failed", 1)
    fake_lambda.respond = lambda invocation, call: function_error("bad record")
    ends = produce(skiff.bootstrap, "t", [(b"k%d" % i, b"v%d" % i, [("x", b"y")], 0) for i in range(10)])
    trigger = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "t", "g", fake_lambda.endpoint, "fake-fn", "--batch-size", "10",
        "--maximum-retry-attempts", "2", "--on-failure-topic", "t-failed"))  # fmt: skip
    wait_committed(skiff.bootstrap, "g", "t", ends)
    assert len(fake_lambda.snapshot()) == 3, "one attempt and two retries"
    failed = read_topic(skiff.bootstrap, "t-failed", 1)
    assert [r.key for r in failed] == [b"k%d" % i for i in range(10)]
    assert [r.value for r in failed] == [b"v%d" % i for i in range(10)]
    for i, record in enumerate(failed):
        headers = headers_of(record)
        assert headers["x"] == b"y"
        assert headers["skiff-trigger-condition"] == b"RetryAttemptsExhausted"
        assert headers["skiff-trigger-attempts"] == b"3"
        assert headers["skiff-trigger-source-topic"] == b"t"
        assert headers["skiff-trigger-source-partition"] == b"0"
        assert headers["skiff-trigger-source-offset"] == str(i).encode()
        assert b"Unhandled" in headers["skiff-trigger-error"] and b"bad record" in headers["skiff-trigger-error"]
    assert "sent 10 records to the on-failure topic" in trigger.log()
    trigger.stop()


def test_partial_batch_failures_retry_from_the_lowest_failed_offset_only(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 1)

    def respond(invocation: Invocation, call: int):
        if call == 1:
            return ok({"batchItemFailures": [{"itemIdentifier": {"partition": "t-0", "offset": 7}},
                                             {"itemIdentifier": {"partition": "t-0", "offset": 5}}]})  # fmt: skip
        return ok({"batchItemFailures": []})

    fake_lambda.respond = respond
    ends = produce(skiff.bootstrap, "t", [(None, b"v", [], 0) for _ in range(10)])
    trigger = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "t", "g", fake_lambda.endpoint, "fake-fn", "--batch-size", "10",
        "--batching-window-ms", "2000", "--report-batch-item-failures"))  # fmt: skip
    wait_committed(skiff.bootstrap, "g", "t", ends)
    calls = [[o for _, o in i.offsets()] for i in fake_lambda.snapshot()]
    assert calls == [list(range(10)), list(range(5, 10))], calls
    trigger.stop()


def test_a_batch_is_cut_before_its_event_would_pass_lambdas_6_mb_payload_limit(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "big", 1)
    value = bytes(900_000)
    ends = produce(skiff.bootstrap, "big", [(None, value, [], 0) for _ in range(12)])
    trigger = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "big", "g", fake_lambda.endpoint, "fake-fn", "--batch-size", "100",
        "--batching-window-ms", "3000"))  # fmt: skip
    wait_committed(skiff.bootstrap, "g", "big", ends)
    invocations = fake_lambda.snapshot()
    assert all(i.body_bytes <= 6 * 1024 * 1024 for i in invocations), [i.body_bytes for i in invocations]
    assert len(invocations) >= 3, "12 records of 1.2 MB (base64) do not fit in two 6 MB events"
    assert sorted(o for i in invocations for _, o in i.offsets()) == list(range(12))
    trigger.stop()


def test_a_sigkilled_trigger_resumes_from_the_last_commit_and_skips_nothing(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 1)
    ends = produce(skiff.bootstrap, "t", [(None, b"v%d" % i, [], 0) for i in range(50)])
    args = trigger_args(skiff.bootstrap, "t", "g", fake_lambda.endpoint, "fake-fn", "--batch-size", "10",
                        "--batching-window-ms", "2000")  # fmt: skip
    # Answer two batches of ten, then hold the third while the trigger is killed.
    fake_lambda.hold_call = 3
    first = start_trigger(skiff_bin, tmp_path, args, "first")
    wait_until(lambda: fake_lambda.held.is_set(), WAIT_S, "the third invocation in flight")
    wait_until(lambda: committed(skiff.bootstrap, "g", "t").get(0) == 20 or None, WAIT_S, "two batches committed")
    held_batch = [o for _, o in fake_lambda.snapshot()[2].offsets()]
    assert held_batch == list(range(20, 30))
    first.kill()
    fake_lambda.release.set()
    assert committed(skiff.bootstrap, "g", "t") == {0: 20}, "the batch in flight was not committed"

    calls_before = len(fake_lambda.snapshot())
    second = start_trigger(skiff_bin, tmp_path, args, "second")
    wait_committed(skiff.bootstrap, "g", "t", ends)
    resumed = fake_lambda.snapshot()[calls_before:]
    # At least once: the killed batch is invoked again, from the last commit; nothing is skipped.
    assert [o for _, o in resumed[0].offsets()] == held_batch
    assert [o for i in resumed for _, o in i.offsets()] == list(range(20, 50))
    assert fake_lambda.delivered() == {(0, o) for o in range(50)}
    second.stop()


def test_starting_positions_latest_and_at_timestamp_apply_to_partitions_without_a_commit(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 1)
    producer = Producer({"bootstrap.servers": skiff.bootstrap})
    for i in range(10):
        producer.produce("t", value=b"v%d" % i, timestamp=1_700_000_000_000 + i * 1000)
    assert producer.flush(30) == 0

    # AT_TIMESTAMP: the first record at or after the time, then on.
    at = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "t", "at", fake_lambda.endpoint, "fake-fn", "--starting-position", "AT_TIMESTAMP",
        "--starting-timestamp", "2023-11-14T22:13:25Z"), "at")  # fmt: skip
    wait_committed(skiff.bootstrap, "at", "t", {0: 10})
    assert sorted(o for _, o in fake_lambda.delivered()) == [5, 6, 7, 8, 9]
    at.stop()

    # LATEST: nothing already there; what arrives after the trigger joined.
    fake_lambda.invocations.clear()
    latest = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "t", "latest", fake_lambda.endpoint, "fake-fn", "--starting-position", "LATEST"), "latest")  # fmt: skip
    wait_until(lambda: "assigned" in latest.log() or None, WAIT_S, "the assignment")
    deadline = time.monotonic() + WAIT_S
    sent = 0
    while not fake_lambda.snapshot():
        # Records written before the trigger found the end are skipped, as LATEST means.
        producer.produce("t", value=b"new")
        producer.flush(10)
        sent += 1
        assert time.monotonic() < deadline, "no record written after the trigger joined reached the function"
        time.sleep(0.2)
    wait_committed(skiff.bootstrap, "latest", "t", {0: 10 + sent})
    delivered = sorted(o for _, o in fake_lambda.delivered())
    assert delivered and delivered[0] >= 10, delivered
    assert delivered == list(range(delivered[0], 10 + sent))
    latest.stop()


# ---- bad input ----


def test_an_unknown_function_is_retried_with_backoff_and_said_so(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 1)
    ends = produce(skiff.bootstrap, "t", [(None, b"v", [], 0) for _ in range(5)])
    trigger = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "t", "g", fake_lambda.endpoint, "no-such-fn"))  # fmt: skip
    wait_until(lambda: trigger.log().count("cannot invoke the function") >= 2 or None, WAIT_S, "two tries logged")
    log = trigger.log()
    assert "ResourceNotFoundException" in log and "Function not found: no-such-fn" in log, log[-3000:]
    assert "records wait, none is skipped" in log
    assert committed(skiff.bootstrap, "g", "t") == {}, "nothing is committed for an unknown function"
    assert trigger.is_running()
    # Once the function exists, the waiting records are delivered.
    fake_lambda.functions.add("no-such-fn")
    wait_committed(skiff.bootstrap, "g", "t", ends)
    assert fake_lambda.delivered() == {(0, o) for o in range(5)}
    trigger.stop()


def test_malformed_function_answers_fail_the_batch_with_a_clear_reason(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 1)
    confluent_client.create_topic(skiff.bootstrap, "t-failed", 1)
    answers = iter([b"this is not json", b'{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":99}}]}'])
    fake_lambda.respond = lambda invocation, call: ok() if call > 2 else Answer(body=next(answers))
    ends = produce(skiff.bootstrap, "t", [(None, b"v", [], 0) for _ in range(3)])
    trigger = start_trigger(skiff_bin, tmp_path, trigger_args(
        skiff.bootstrap, "t", "g", fake_lambda.endpoint, "fake-fn", "--batch-size", "3",
        "--batching-window-ms", "2000", "--report-batch-item-failures", "--maximum-retry-attempts", "1",
        "--on-failure-topic", "t-failed"))  # fmt: skip
    wait_committed(skiff.bootstrap, "g", "t", ends)
    log = trigger.log()
    assert "the function's answer is not JSON" in log, log[-3000:]
    assert "offset 99 of t-0 as failed, which was not in the batch (0..=2)" in log
    failed = read_topic(skiff.bootstrap, "t-failed", 1)
    assert len(failed) == 3
    assert b"not in the batch" in headers_of(failed[0])["skiff-trigger-error"]
    trigger.stop()


def test_start_up_errors_are_clear(skiff_factory, skiff_bin: Path, fake_lambda: FakeLambda) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 1)
    base = trigger_args(skiff.bootstrap, "t", "g", fake_lambda.endpoint, "fake-fn")
    code, stderr = run_trigger_expecting_failure(skiff_bin, [*base, "--on-failure-topic", "missing"])
    assert code == 1
    assert 'the on-failure topic "missing" does not exist on ' + skiff.bootstrap in stderr, stderr
    assert "skiff topic create missing" in stderr
    code, stderr = run_trigger_expecting_failure(skiff_bin, [*base, "--topic", "nope"])
    assert code == 1 and 'topic "nope" does not exist' in stderr, stderr
    code, stderr = run_trigger_expecting_failure(skiff_bin, [*base, "--on-failure-topic", "t"])
    assert code == 1 and "is also a source topic" in stderr, stderr
    for flag, value, says in [
        ("--batch-size", "0", "--batch-size must be between 1 and 10000 records, not 0"),
        ("--batch-size", "10001", "not 10001"),
        ("--batching-window-ms", "300001", "--batching-window-ms must be between 0 and 300000 ms"),
        ("--maximum-retry-attempts", "-2", "--maximum-retry-attempts must be -1 (until the record expires)"),
        ("--maximum-record-age-s", "59", "--maximum-record-age-s must be -1 (no limit) or between 60 and 604800"),
        ("--starting-position", "EARLIEST", "is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP"),
    ]:
        args = trigger_args(skiff.bootstrap, "t", "g", fake_lambda.endpoint, "fake-fn", flag, value)
        code, stderr = run_trigger_expecting_failure(skiff_bin, args)
        assert code == 1 and says in stderr, (flag, value, stderr)
    dead = f"127.0.0.1:{free_port()}"
    code, stderr = run_trigger_expecting_failure(
        skiff_bin, trigger_args(dead, "t", "g", fake_lambda.endpoint, "fake-fn"), timeout_s=90)
    assert code == 1 and f"no Kafka broker answered at {dead}" in stderr, stderr


def test_an_unreachable_lambda_endpoint_is_retried_and_said_so(skiff_factory, skiff_bin: Path, tmp_path: Path) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 1)
    produce(skiff.bootstrap, "t", [(None, b"v", [], 0)])
    nobody = f"http://127.0.0.1:{free_port()}"
    trigger = start_trigger(skiff_bin, tmp_path, trigger_args(skiff.bootstrap, "t", "g", nobody, "fake-fn"))
    wait_until(lambda: "cannot invoke the function" in trigger.log() or None, WAIT_S, "the failure logged")
    assert 'kind="unreachable"' in trigger.log() or "kind=unreachable" in trigger.log(), trigger.log()[-2000:]
    assert committed(skiff.bootstrap, "g", "t") == {}
    trigger.stop()


def test_several_triggers_in_one_group_share_the_partitions(
    skiff_factory, skiff_bin: Path, tmp_path: Path, fake_lambda: FakeLambda
) -> None:
    skiff = skiff_factory(FILE_STORE, *DEV_ARGS)
    confluent_client.create_topic(skiff.bootstrap, "t", 4)
    args = trigger_args(skiff.bootstrap, "t", "shared", fake_lambda.endpoint, "fake-fn")
    one = start_trigger(skiff_bin, tmp_path, args, "one")
    two = start_trigger(skiff_bin, tmp_path, args, "two")

    def split() -> dict | None:
        description = group_admin.describe_group(confluent_client, skiff.bootstrap, "shared", "t")
        assignments = [m.partitions for m in description.members.values()]
        if description.state != "Stable" or len(assignments) != 2 or not all(assignments):
            return None
        return description.assignments()

    assignments = wait_until(split, WAIT_S, "both triggers to own partitions")
    owned = [p for partitions in assignments.values() for p in partitions]
    assert sorted(owned) == [0, 1, 2, 3], assignments
    ends = produce(skiff.bootstrap, "t", [(None, b"v%d" % i, [], i % 4) for i in range(80)])
    wait_committed(skiff.bootstrap, "shared", "t", ends)
    assert fake_lambda.delivered() == {(i % 4, i // 4) for i in range(80)}
    assert "assigned" in one.log() and "assigned" in two.log()
    one.stop()
    two.stop()
