// kafkajs transactions, driven by tests/e2e/test_transactions.py: a transaction committed with
// a group's offsets, one aborted, one more committed; what read_committed and
// read_uncommitted consumers read; the group's committed offset; and a zombie producer fenced
// by a second one with the same transactional id. Settings come as one JSON argument:
// { brokers, topic, source, group, transactionalId }. Prints the outcome as JSON.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

function messages(prefix, count) {
  const out = [];
  for (const partition of [0, 1]) {
    for (let i = 0; i < count; i++) {
      out.push({ value: `${prefix}-${partition}-${i}`, partition });
    }
  }
  return out;
}

// Reads `topic` from the beginning until `expected` records arrived (or 30 s passed), per
// partition in offset order.
async function readAll(kafka, topic, readUncommitted, expected) {
  const consumer = kafka.consumer({
    groupId: `reader-${Math.random().toString(16).slice(2)}`,
    readUncommitted,
    sessionTimeout: 10000,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const read = { 0: [], 1: [] };
  let count = 0;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(), 30000);
    consumer
      .run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          read[partition].push(message.value.toString());
          count += 1;
          if (count >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return read;
}

async function main() {
  const settings = JSON.parse(process.argv[2]);
  const kafka = new Kafka({
    clientId: 'skiff-e2e-kafkajs-txn',
    brokers: settings.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 10000,
    retry: { retries: 3 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: settings.topic, numPartitions: 2 },
      { topic: settings.source, numPartitions: 1 },
    ],
  });

  const producer = kafka.producer({
    transactionalId: settings.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const first = await producer.transaction();
  await first.send({ topic: settings.topic, messages: messages('first', 10) });
  await first.sendOffsets({
    consumerGroupId: settings.group,
    topics: [{ topic: settings.source, partitions: [{ partition: 0, offset: '7' }] }],
  });
  await first.commit();
  const aborted = await producer.transaction();
  await aborted.send({ topic: settings.topic, messages: messages('aborted', 5) });
  await aborted.abort();
  const second = await producer.transaction();
  await second.send({ topic: settings.topic, messages: messages('second', 3) });
  await second.commit();
  await producer.disconnect();

  const committed = await readAll(kafka, settings.topic, false, 26);
  const uncommitted = await readAll(kafka, settings.topic, true, 36);
  const offsets = await admin.fetchOffsets({ groupId: settings.group, topics: [settings.source] });

  // A zombie: the second producer's initialisation fences the first, whose commit fails.
  const zombie = kafka.producer({ transactionalId: `${settings.transactionalId}-z`, idempotent: true, maxInFlightRequests: 1 });
  await zombie.connect();
  const zombieTxn = await zombie.transaction();
  await zombieTxn.send({ topic: settings.topic, messages: [{ value: 'zombie', partition: 0 }] });
  const newer = kafka.producer({ transactionalId: `${settings.transactionalId}-z`, idempotent: true, maxInFlightRequests: 1 });
  await newer.connect();
  const newerTxn = await newer.transaction();
  let fenced = null;
  try {
    await zombieTxn.commit();
  } catch (err) {
    fenced = err.type || err.name;
  }
  await newerTxn.send({ topic: settings.topic, messages: [{ value: 'newer', partition: 1 }] });
  await newerTxn.commit();
  await zombie.disconnect().catch(() => {});
  await newer.disconnect();
  await admin.disconnect();

  process.stdout.write(JSON.stringify({ committed, uncommitted, offsets, fenced }));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
