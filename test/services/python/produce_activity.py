"""Produces deterministic UserActivity events to Kafka with Confluent's own Python client and Avro serde.

The values are Confluent wire-format Avro (magic byte 0, 4-byte schema id, Avro binary) written by
confluent_kafka.schema_registry.avro.AvroSerializer against a Confluent-API schema registry (Pulse's, in
the interop tests), with the writer schema read from Pulse's .avsc contract. Keys are the user_id as UTF-8,
placed with librdkafka's murmur2_random partitioner: the Java client's (and Pulse's) placement of keyed
records, where librdkafka's default (consistent_random, CRC32) would put keys elsewhere.

The same arguments give the same events, byte for byte: event ids are UUIDv5 of the prefix and index, and
every other field comes from random.Random(seed). All events are valid under Pulse's contract rules.

Prints one JSON summary on stdout; with --events-out, also writes every event produced (as handed to the
serializer) with the partition and offset Kafka gave it, one JSON object per line.
"""

import argparse
import json
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import confluent_kafka
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SCHEMA = REPO_ROOT / "src" / "contracts" / "schemas" / "user-activity.v2.avsc"

# Shares of each type, roughly a web shop's funnel.
EVENT_TYPES = [
    ("VIEW", 34),
    ("CLICK", 20),
    ("SEARCH", 12),
    ("ADD_TO_CART", 10),
    ("PURCHASE", 8),
    ("LOGIN", 5),
    ("LOGOUT", 4),
    ("REMOVE_FROM_CART", 4),
    ("SIGNUP", 3),
]
DEVICES = ["DESKTOP", "MOBILE", "TABLET", "UNKNOWN"]
COUNTRIES = [None, "DE", "FR", "US", "PL", "BR", "JP"]
CURRENCIES = ["EUR", "USD", "PLN"]
APP_VERSIONS = [None, "4.2.0", "4.3.1"]
PAGES = ["/", "/search", "/cart", "/checkout", "/account"]
# The namespace of the event ids (a fixed random UUID): uuid5(namespace, "<prefix>/<index>").
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c52-7a0e-4d8b-9a57-2b3e1c4f5a60")

# How a serializer finds the schema id it writes (see docs/interop.md):
#   lookup    auto.register.schemas=False: POST /subjects/<subject> finds the id of this exact schema, and
#             fails when it is not registered (the producer never adds a schema of its own).
#   register  auto.register.schemas=True: POST /subjects/<subject>/versions, which returns the existing id
#             for a schema already registered under the subject.
#   latest    use.latest.version=True: GET /subjects/<subject>/versions/latest, and writes with that schema.
SCHEMA_MODES = {
    "lookup": {"auto.register.schemas": False},
    "register": {"auto.register.schemas": True},
    "latest": {"auto.register.schemas": False, "use.latest.version": True},
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--registry", required=True, help="schema registry base URL, e.g. http://127.0.0.1:8501")
    parser.add_argument("--topic", default="user-activity")
    parser.add_argument("--schema", default=str(DEFAULT_SCHEMA), help="writer schema, an .avsc file")
    parser.add_argument("--schema-mode", choices=sorted(SCHEMA_MODES), default="lookup")
    parser.add_argument("--count", type=int, default=1000, help="events to produce")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--prefix", default="py", help="prefix of user and session ids; part of the event ids")
    parser.add_argument("--users", type=int, help="distinct users (default: count / 8, at least 1)")
    parser.add_argument("--start-ms", type=int, required=True, help="event time of the first event, ms since the epoch")
    parser.add_argument("--span-ms", type=int, default=6 * 3_600_000, help="event times spread over about this long")
    parser.add_argument("--compression", default="none", help="compression.type: none, gzip, snappy, lz4 or zstd")
    parser.add_argument("--events-out", help="write the produced events here, one JSON object per line")
    parser.add_argument(
        "--resolve-only",
        action="store_true",
        help="serialize one event to find the schema id, print it, produce nothing",
    )
    args = parser.parse_args(argv)
    if args.count < 0 or args.span_ms < 1:
        parser.error("--count must be >= 0 and --span-ms >= 1")
    return args


def make_events(args):
    """The events, in event-time order: the same arguments always give the same list."""
    rng = random.Random(args.seed)
    users = [f"{args.prefix}-u{n:05d}" for n in range(args.users or max(1, args.count // 8))]
    sessions = Counter()
    types = [name for name, _ in EVENT_TYPES]
    weights = [weight for _, weight in EVENT_TYPES]
    mean_gap_ms = max(1, args.span_ms // max(1, args.count))
    event_time = args.start_ms
    events = []
    for index in range(args.count):
        if index > 0:
            event_time += rng.randint(0, 2 * mean_gap_ms)
        # Skewed towards the first users (a few heavy users, a long tail), as real traffic is.
        user = users[int(len(users) * rng.random() ** 2)]
        if rng.random() < 0.1:
            sessions[user] += 1
        event_type = rng.choices(types, weights)[0]
        purchase = event_type == "PURCHASE"
        events.append(
            {
                "event_id": str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{args.prefix}/{index}")),
                "user_id": user,
                "session_id": f"{user}-s{sessions[user]}",
                "event_type": event_type,
                "event_time": event_time,
                "page": rng.choice(PAGES) if not purchase else "/checkout/done",
                "referrer": rng.choice([None, "https://www.example.org/", "https://search.example.com/?q=shoes"]),
                "device": rng.choice(DEVICES),
                "country": rng.choice(COUNTRIES),
                # Whole cents, so the cents Pulse sums are exactly these.
                "amount": rng.randint(99, 99_999) / 100 if purchase else None,
                "currency": rng.choice(CURRENCIES) if purchase else None,
                "app_version": rng.choice(APP_VERSIONS),
            }
        )
    return events


def main(argv):
    args = parse_args(argv)
    # TopicNameStrategy, the serializer's default and Pulse's naming.
    subject = f"{args.topic}-value"
    schema_text = Path(args.schema).read_text(encoding="utf-8")
    registry = SchemaRegistryClient({"url": args.registry})
    serializer = AvroSerializer(registry, schema_text, conf=dict(SCHEMA_MODES[args.schema_mode]))
    context = SerializationContext(args.topic, MessageField.VALUE)

    events = make_events(args)
    if args.resolve_only:
        probe = make_events(argparse.Namespace(**{**vars(args), "count": 1}))[0]
        frame = serializer(probe, context)
        print(json.dumps({"subject": subject, "schema_mode": args.schema_mode, "schema_id": schema_id_of(frame)}))
        return 0

    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": "pulse-interop-python",
            # Java's (and Pulse's) placement of keyed records: murmur2(key) mod partitions.
            "partitioner": "murmur2_random",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 10,
            "compression.type": args.compression,
        }
    )
    positions = [None] * len(events)
    errors = []

    def delivered(index):
        def report(error, message):
            if error is not None:
                errors.append(f"event {index}: {error}")
            else:
                positions[index] = (message.partition(), message.offset())

        return report

    started = time.monotonic()
    schema_ids = Counter()
    for index, event in enumerate(events):
        value = serializer(event, context)
        schema_ids[schema_id_of(value)] += 1
        while True:
            try:
                producer.produce(args.topic, key=event["user_id"].encode("utf-8"), value=value, on_delivery=delivered(index))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(60)
    elapsed_ms = round((time.monotonic() - started) * 1000)
    if remaining > 0:
        errors.append(f"{remaining} events still unacknowledged after 60 s")

    if args.events_out:
        with open(args.events_out, "w", encoding="utf-8") as out:
            for event, position in zip(events, positions):
                if position is not None:
                    out.write(json.dumps({**event, "partition": position[0], "offset": position[1]}) + "\n")

    delivered_events = [e for e, p in zip(events, positions) if p is not None]
    summary = {
        "topic": args.topic,
        "subject": subject,
        "schema_mode": args.schema_mode,
        "schema_ids": {str(k): v for k, v in sorted(schema_ids.items())},
        "partitioner": "murmur2_random",
        "compression": args.compression,
        "sent": len(events),
        "produced": len(delivered_events),
        "errors": errors[:10],
        "by_partition": {str(k): v for k, v in sorted(Counter(p[0] for p in positions if p).items())},
        "by_event_type": dict(sorted(Counter(e["event_type"] for e in delivered_events).items())),
        "distinct_users": len({e["user_id"] for e in delivered_events}),
        "purchase_cents": sum(round(e["amount"] * 100) for e in delivered_events if e["event_type"] == "PURCHASE"),
        "first_event_time": delivered_events[0]["event_time"] if delivered_events else None,
        "last_event_time": delivered_events[-1]["event_time"] if delivered_events else None,
        "elapsed_ms": elapsed_ms,
        "versions": {"confluent_kafka": confluent_kafka.__version__, "librdkafka": confluent_kafka.libversion()[0]},
    }
    print(json.dumps(summary))
    return 0 if not errors else 1


def schema_id_of(frame):
    """The schema id of a Confluent wire-format frame: magic byte 0, then a 4-byte big-endian id."""
    if len(frame) < 5 or frame[0] != 0:
        raise ValueError("not a Confluent wire-format frame")
    return int.from_bytes(frame[1:5], "big")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
