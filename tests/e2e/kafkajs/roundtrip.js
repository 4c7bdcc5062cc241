// One kafkajs round trip, driven by tests/e2e/test_kafkajs.py: creates the topic through the
// admin client, produces `count` keyed records with headers, consumes them back in a consumer
// group, and prints what it read as JSON. Settings come as one JSON argument:
// { brokers, topic, group, count, sasl?: { mechanism, username, password }, ca? }.
'use strict';

const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const settings = JSON.parse(process.argv[2]);
  const kafka = new Kafka({
    clientId: 'skiff-e2e-kafkajs',
    brokers: settings.brokers,
    logLevel: logLevel.ERROR,
    ssl: settings.ca ? { ca: [fs.readFileSync(settings.ca, 'utf8')] } : false,
    sasl: settings.sasl,
    connectionTimeout: 10000,
    retry: { retries: 3 },
  });

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: settings.topic, numPartitions: 2 }] });
  await admin.disconnect();

  const producer = kafka.producer();
  await producer.connect();
  const sent = [];
  for (let i = 0; i < settings.count; i++) {
    sent.push({ key: `k${i}`, value: `v${i}`, headers: { n: String(i) }, partition: i % 2 });
  }
  const acks = await producer.send({ topic: settings.topic, messages: sent });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: settings.group, sessionTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic: settings.topic, fromBeginning: true });
  const read = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${read.length} of ${settings.count}`)), 30000);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          read.push({
            partition,
            offset: Number(message.offset),
            key: message.key && message.key.toString(),
            value: message.value && message.value.toString(),
            n: message.headers.n && message.headers.n.toString(),
          });
          if (read.length === settings.count) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  process.stdout.write(JSON.stringify({ acks, read }));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
