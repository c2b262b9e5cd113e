"""Reads UserActivity records from Kafka with Confluent's own Python client and Avro deserializer.

Joins a fresh consumer group (nothing committed, so it leaves no offsets behind), starts every partition
at the beginning (or at --from-offsets), and decodes each value with
confluent_kafka.schema_registry.avro.AvroDeserializer, which fetches the writer schema by the id in the
record's wire-format header from a Confluent-API registry (Pulse's, in the interop tests). Stops when each
partition reached --to-offsets, or when --expected events were tallied, or at --timeout.

Prints one JSON object on stdout: records read and decoded, counts per event_type, distinct users, the
sum of PURCHASE amounts (in cents, exact, and as a float), the schema ids seen, and per-partition counts.
With --event-time-from-ms/--event-time-to-ms, only events in that range are tallied (the others are
decoded and counted as skipped): a way to pick one run's events out of a topic that others write too.
Exit code 0 when the stop condition was met, 2 on timeout, 1 when a record failed to decode.
"""

import argparse
import json
import sys
import time
import uuid
from collections import Counter

import confluent_kafka
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--registry", required=True, help="schema registry base URL, e.g. http://127.0.0.1:8501")
    parser.add_argument("--topic", default="user-activity")
    parser.add_argument("--group", help="consumer group (default: a fresh pulse-interop-<uuid>)")
    parser.add_argument("--from-offsets", type=offsets_arg, help='JSON {"partition": offset}: where to start')
    parser.add_argument("--to-offsets", type=offsets_arg, help='JSON {"partition": offset}: stop before these')
    parser.add_argument("--expected", type=int, help="stop after this many records")
    parser.add_argument("--event-time-from-ms", type=int, help="tally only events at or after this event time")
    parser.add_argument("--event-time-to-ms", type=int, help="tally only events before this event time")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before giving up")
    return parser.parse_args(argv)


def offsets_arg(text):
    return {int(partition): int(offset) for partition, offset in json.loads(text).items()}


def main(argv):
    args = parse_args(argv)
    group = args.group or f"pulse-interop-{uuid.uuid4()}"
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": args.registry}))
    context = SerializationContext(args.topic, MessageField.VALUE)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": group,
            "client.id": "pulse-interop-python",
            "auto.offset.reset": "earliest",
            # Read-only: a fresh group that commits nothing disappears when the consumer leaves.
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    from_offsets = args.from_offsets or {}
    to_offsets = args.to_offsets

    def on_assign(the_consumer, partitions):
        for tp in partitions:
            tp.offset = from_offsets.get(tp.partition, OFFSET_BEGINNING)
        the_consumer.assign(partitions)

    consumer.subscribe([args.topic], on_assign=on_assign)

    by_type = Counter()
    by_partition = Counter()
    schema_ids = Counter()
    users = set()
    purchase_cents = 0
    purchase_amount = 0.0
    read = decoded = skipped = tallied = 0
    failures = []
    # Where each partition stands: the next offset to read.
    next_offset = {}
    started = time.monotonic()

    def done():
        if to_offsets is not None:
            return all(next_offset.get(p, from_offsets.get(p, 0)) >= end for p, end in to_offsets.items())
        return args.expected is not None and tallied >= args.expected

    timed_out = False
    try:
        while not done():
            if time.monotonic() - started > args.timeout:
                timed_out = True
                break
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    # At the end: offsets below it that carried no record (e.g. transaction markers) count as read.
                    partition = message.partition()
                    next_offset[partition] = max(next_offset.get(partition, 0), message.offset())
                    continue
                raise confluent_kafka.KafkaException(message.error())
            partition, offset = message.partition(), message.offset()
            next_offset[partition] = offset + 1
            if to_offsets is not None and offset >= to_offsets.get(partition, 0):
                continue
            read += 1
            value = message.value()
            try:
                schema_id = schema_id_of(value)
                event = deserializer(value, context)
            except Exception as error:  # noqa: BLE001 - every failure is reported, none is fatal
                failures.append(f"{partition}@{offset}: {error}")
                continue
            decoded += 1
            if not in_time_range(args, event["event_time"]):
                # Someone else's record on a shared topic: decoded, but not one of the events looked for.
                skipped += 1
                continue
            tallied += 1
            schema_ids[schema_id] += 1
            by_partition[partition] += 1
            by_type[event["event_type"]] += 1
            users.add(event["user_id"])
            if event["event_type"] == "PURCHASE" and event["amount"] is not None:
                purchase_cents += round(event["amount"] * 100)
                purchase_amount += event["amount"]
    finally:
        consumer.close()

    print(
        json.dumps(
            {
                "topic": args.topic,
                "group": group,
                "read": read,
                "tallied": tallied,
                "decoded": decoded,
                "failed": len(failures),
                "skipped": skipped,
                "failures": failures[:10],
                "timed_out": timed_out,
                "by_event_type": dict(sorted(by_type.items())),
                "by_partition": {str(k): v for k, v in sorted(by_partition.items())},
                "distinct_users": len(users),
                "purchase_cents": purchase_cents,
                "purchase_amount": purchase_amount,
                "schema_ids": {str(k): v for k, v in sorted(schema_ids.items())},
                "elapsed_ms": round((time.monotonic() - started) * 1000),
            }
        )
    )
    if failures:
        return 1
    return 2 if timed_out else 0


def in_time_range(args, event_time):
    """Whether an event time (ms, or the datetime fastavro makes of a timestamp-millis) is in the asked range."""
    if not isinstance(event_time, int):
        event_time = round(event_time.timestamp() * 1000)
    if args.event_time_from_ms is not None and event_time < args.event_time_from_ms:
        return False
    return args.event_time_to_ms is None or event_time < args.event_time_to_ms


def schema_id_of(frame):
    """The schema id of a Confluent wire-format frame: magic byte 0, then a 4-byte big-endian id."""
    if frame is None or len(frame) < 5 or frame[0] != 0:
        raise ValueError("not a Confluent wire-format frame")
    return int.from_bytes(frame[1:5], "big")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
