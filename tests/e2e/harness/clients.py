"""The stock Kafka clients under test, by name. Each is a module with the same functions:
create_topic, ProducerHandle, consume, watermarks, offsets_for_times (and NAME)."""

from __future__ import annotations

from types import ModuleType

from . import confluent_client, kafka_python_client

CLIENTS: dict[str, ModuleType] = {module.NAME: module for module in (confluent_client, kafka_python_client)}
CLIENT_NAMES = tuple(CLIENTS)
