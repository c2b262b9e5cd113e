// The RawLake scans as every backend runs them: arguments checked alike, each scan one walk over a topic's partitions that the backend carries out.
import type { EventTimeRange, LakePosition, OffsetRange, RawEventRow, RawLake } from "./index.ts";
import {
  checkEventTimeScan,
  checkLimit,
  checkOffsetScan,
  checkRawPositions,
  MAX_PARTITIONS,
} from "./validate.ts";

/**
 * A topic's rows in (partition, offset) order: the partitions in [fromPartition, toPartition) that hold
 * rows, each from `firstOffset(partition)` up to (not including) `endOffset`, only those with an event
 * time in `times` when it is given, until `limit` rows.
 */
export interface PartitionWalk {
  topic: string;
  fromPartition: number;
  toPartition: number;
  firstOffset: (partition: number) => number;
  endOffset: number;
  times: EventTimeRange | undefined;
  limit: number;
}

export abstract class PartitionScans implements RawLake {
  async lastOffsets(topic: string): Promise<Map<number, number>> {
    this.requireOpen();
    return this.lastOffsetsOf(topic);
  }

  /** The backend's answer to lastOffsets: each partition's greatest stored offset. */
  protected abstract lastOffsetsOf(topic: string): Promise<Map<number, number>>;

  async scanOffsets(
    topic: string,
    partition: number,
    range: OffsetRange,
    limit: number,
  ): Promise<RawEventRow[]> {
    this.requireOpen();
    checkOffsetScan(partition, range, limit);
    const first = Math.max(range.fromOffset, 0);
    return this.walk({
      topic,
      fromPartition: partition,
      toPartition: Math.min(partition + 1, MAX_PARTITIONS),
      firstOffset: () => first,
      endOffset: range.toOffset,
      times: undefined,
      limit,
    });
  }

  async scanAfter(topic: string, after: ReadonlyMap<number, number>, limit: number): Promise<RawEventRow[]> {
    this.requireOpen();
    checkLimit("scanAfter limit", limit);
    checkRawPositions(after);
    return this.walk({
      topic,
      fromPartition: 0,
      toPartition: MAX_PARTITIONS,
      firstOffset: (partition) => nextOffset(after.get(partition)),
      endOffset: Number.POSITIVE_INFINITY,
      times: undefined,
      limit,
    });
  }

  async scanEventTime(
    topic: string,
    range: EventTimeRange,
    limit: number,
    after?: LakePosition,
  ): Promise<RawEventRow[]> {
    this.requireOpen();
    checkEventTimeScan(range, limit, after);
    return this.walk({
      topic,
      fromPartition: after === undefined ? 0 : Math.max(after.partition, 0),
      toPartition: MAX_PARTITIONS,
      firstOffset: (partition) => nextOffset(partition === after?.partition ? after.offset : undefined),
      endOffset: Number.POSITIVE_INFINITY,
      times: range,
      limit,
    });
  }

  /** Fails with PULSE_STORE_CLOSED once the store that holds the lake is closed. */
  protected abstract requireOpen(): void;

  /** Runs the walk: its rows, or a StoreError. */
  protected abstract walk(walk: PartitionWalk): Promise<RawEventRow[]>;
}

/** The first offset to read after a position (none: from the start). */
function nextOffset(position: number | undefined): number {
  return position === undefined ? 0 : Math.max(position + 1, 0);
}
