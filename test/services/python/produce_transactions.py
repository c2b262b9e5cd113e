"""Writes committed and aborted transactions to one Kafka partition with Confluent's own Python client.

A transactional producer runs the plan given as --plan, e.g. "abort:3,commit:2,plain:1,abort:2,commit:3":
each step is a transaction of that many records, committed or aborted, or (plain) records written by a
second, non-transactional producer between transactions. Values are "<step>-<index>" in UTF-8, keys
"k<step>". Each transaction is flushed before it ends, so the partition holds its batches, and then the
commit or abort marker (a control batch), in plan order.

Prints one JSON summary on stdout: the values a read_committed consumer must see, in order, and the
values of aborted transactions.
"""

import argparse
import json

from confluent_kafka import Producer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--compression", default="none")
    parser.add_argument("--transactional-id", required=True)
    args = parser.parse_args()

    common = {
        "bootstrap.servers": args.brokers,
        "compression.type": args.compression,
        "linger.ms": 0,
    }
    transactional = Producer(
        {**common, "transactional.id": args.transactional_id, "enable.idempotence": True}
    )
    plain = Producer(common)
    transactional.init_transactions(30)

    committed: list[str] = []
    aborted: list[str] = []
    errors: list[str] = []

    def report(err, _msg) -> None:
        if err is not None:
            errors.append(str(err))

    for step, part in enumerate(args.plan.split(",")):
        kind, count = part.split(":")
        values = [f"{step}-{i}" for i in range(int(count))]
        if kind == "plain":
            for value in values:
                plain.produce(args.topic, key=f"k{step}", value=value, partition=0, on_delivery=report)
            plain.flush(30)
            committed.extend(values)
            continue
        transactional.begin_transaction()
        for value in values:
            transactional.produce(args.topic, key=f"k{step}", value=value, partition=0, on_delivery=report)
        transactional.flush(30)
        if kind == "commit":
            transactional.commit_transaction(30)
            committed.extend(values)
        elif kind == "abort":
            transactional.abort_transaction(30)
            aborted.extend(values)
        else:
            raise SystemExit(f"unknown step kind {kind!r} in --plan")

    print(json.dumps({"committed": committed, "aborted": aborted, "errors": errors}))


if __name__ == "__main__":
    main()
