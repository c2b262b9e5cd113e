# The Spark side of `npm run bench -- spark`: REES46 activity windows with Structured Streaming, from CSV files or Kafka.
#
# Usage (through spark-submit, which bench/spark.ts runs):
#   job.py --source files --input DIR --output FILE --stop-watermark-ms MS [--max-files-per-trigger N]
#   job.py --source kafka --bootstrap HOST:PORT --topic NAME --schema FILE --output FILE --stop-watermark-ms MS
#
# The query, as Pulse's stream job computes its activity windows:
#   events -> watermark 10 minutes on event_time -> drop duplicates by (event_id, event_time)
#          -> per (1-minute window, event_type, user_id): count          (first stateful aggregation)
#          -> per (window, event_type): sum(count) as event_count, count(*) as unique_users (chained)
# Spark has no exact distinct count on a stream, hence the two chained aggregations (append mode, several
# stateful operators, Spark 3.4 and later). A window's row is written once, when the watermark passes its
# end; each micro-batch's rows are appended to --output as JSON lines with the wall-clock time (ms) the batch
# wrote them, so the harness can time them. The input never ends (a file source keeps watching its folder),
# so the job stops once a micro-batch has run with a watermark at or past --stop-watermark-ms: the harness
# ends the input with a sentinel event late enough to move the watermark past every window.

import argparse
import calendar
import json
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

# REES46 event types as Pulse names them (src/ingest/activity-csv.ts).
EVENT_TYPES = {"view": "VIEW", "cart": "ADD_TO_CART", "remove_from_cart": "REMOVE_FROM_CART", "purchase": "PURCHASE"}
WATERMARK = "10 minutes"
WINDOW = "1 minute"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--source", choices=["files", "kafka"], required=True)
    p.add_argument("--input")
    p.add_argument("--max-files-per-trigger", type=int, default=1)
    p.add_argument("--bootstrap")
    p.add_argument("--topic")
    p.add_argument("--schema", help="the Avro schema (JSON) the topic's values were written with")
    p.add_argument("--max-offsets-per-trigger", type=int, default=0)
    p.add_argument("--output", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--stop-watermark-ms", type=int, required=True)
    return p.parse_args()


def csv_events(spark, args):
    """The generated REES46 CSV files: every column as text; the harness added event_id (a hash of the row)."""
    schema = StructType(
        [
            StructField(name, StringType())
            for name in [
                "event_time",
                "event_type",
                "product_id",
                "category_id",
                "category_code",
                "brand",
                "price",
                "user_id",
                "user_session",
                "event_id",
            ]
        ]
    )
    raw = (
        spark.readStream.schema(schema)
        .option("header", "true")
        .option("maxFilesPerTrigger", args.max_files_per_trigger)
        .csv(args.input)
    )
    mapping = F.create_map(*[F.lit(x) for pair in EVENT_TYPES.items() for x in pair])
    return raw.select(
        F.col("event_id"),
        F.col("user_id"),
        mapping[F.col("event_type")].alias("event_type"),
        F.to_timestamp(F.col("event_time"), "yyyy-MM-dd HH:mm:ss 'UTC'").alias("event_time"),
    )


def kafka_events(spark, args):
    """Pulse's `user-activity` topic: Confluent wire format (magic byte, 4-byte schema id), then Avro binary."""
    from pyspark.sql.avro.functions import from_avro

    with open(args.schema, encoding="utf8") as f:
        avro_schema = f.read()
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap)
        .option("subscribe", args.topic)
        .option("startingOffsets", "earliest")
    )
    if args.max_offsets_per_trigger > 0:
        reader = reader.option("maxOffsetsPerTrigger", args.max_offsets_per_trigger)
    raw = reader.load()
    # substring on binary is 1-based: skip the 5 header bytes.
    body = F.expr("substring(value, 6, length(value) - 5)")
    decoded = raw.select(from_avro(body, avro_schema, {"mode": "FAILFAST"}).alias("e"))
    return decoded.select(
        F.col("e.event_id").alias("event_id"),
        F.col("e.user_id").alias("user_id"),
        F.col("e.event_type").cast("string").alias("event_type"),
        # timestamp-millis: from_avro gives a timestamp already.
        F.col("e.event_time").alias("event_time"),
    )


def windows(events):
    deduped = events.withWatermark("event_time", WATERMARK).dropDuplicates(["event_id", "event_time"])
    per_user = deduped.groupBy(F.window("event_time", WINDOW), "event_type", "user_id").agg(
        F.count(F.lit(1)).alias("n")
    )
    per_type = per_user.groupBy(F.window(F.window_time("window"), WINDOW), "event_type").agg(
        F.sum("n").alias("event_count"), F.count(F.lit(1)).alias("unique_users")
    )
    return per_type.select(
        F.unix_millis(F.col("window.start")).alias("window_start"),
        "event_type",
        "event_count",
        "unique_users",
    )


def main():
    args = parse_args()
    spark = (
        SparkSession.builder.appName("pulse-bench-spark")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    events = csv_events(spark, args) if args.source == "files" else kafka_events(spark, args)
    out = open(args.output, "a", encoding="utf8")

    def write(batch, batch_id):
        rows = batch.collect()
        written_ms = int(time.time() * 1000)
        for r in rows:
            out.write(json.dumps({**r.asDict(), "batch": batch_id, "written_ms": written_ms}) + "\n")
        out.flush()

    query = (
        windows(events)
        .writeStream.outputMode("append")
        .option("checkpointLocation", args.checkpoint)
        .foreachBatch(write)
        .start()
    )
    started_ms = int(time.time() * 1000)
    print("SPARK-BENCH-STARTED", flush=True)
    stop_at = args.stop_watermark_ms
    batches = 0
    rows_in = 0
    seen = set()
    while query.isActive:
        for p in query.recentProgress:
            if p["batchId"] in seen:
                continue
            seen.add(p["batchId"])
            batches += 1
            rows_in += p["numInputRows"]
            wm = p.get("eventTime", {}).get("watermark")
            if wm is not None and calendar.timegm(time.strptime(wm[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 >= stop_at:
                query.stop()
                break
        else:
            time.sleep(0.05)
    if query.exception() is not None:
        raise query.exception()
    out.close()
    summary = {
        "batches": batches,
        "input_rows": rows_in,
        "query_started_ms": started_ms,
        "stopped_ms": int(time.time() * 1000),
    }
    print("SPARK-BENCH-SUMMARY " + json.dumps(summary), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
