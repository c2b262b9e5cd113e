// PartitionCursor: where the job stands in one source partition, and the marks its checkpoint records.

import { NO_BYTES } from "./envelope.ts";

export class PartitionCursor {
  readonly partition: number;
  readonly dlqPartition: number;
  nextOffset = 0;
  highWatermark = 0;
  dlqMark = 0;
  /** The mark to keep persisting until the job has read past every recovered dead letter. */
  recoveryMark = 0;
  /** Source offsets this job had dead-lettered beyond its checkpoint (a crash between produce and commit). */
  recovered = new Set<number>();
  recoveredMax = -1;
  deadLettered = 0;
  /** Read or changed since the last commit: needs a new checkpoint. */
  dirty = false;
  /** The offset last committed to the log's consumer group (for lag display), −1 before any. */
  groupOffset = -1;
  /** The nextOffset of this partition's checkpoint in the store as this job last saw it (null: none). */
  storedOffset: number | null = null;
  /** Offsets below this are committed already (a replay from an older state): no lake or late rows. */
  replayUntil = 0;
  /** The offset the stored state covers (−1: none stored). */
  snapshotOffset = -1;

  /** Moves the read position to `offset` (raising the high watermark seen); the next commit records it. */
  advanceTo(offset: number): void {
    this.nextOffset = offset;
    if (offset > this.highWatermark) this.highWatermark = offset;
    this.dirty = true;
  }

  /** The next offset a checkpoint records: a replay below replayUntil does not move it back. */
  get committedOffset(): number {
    return Math.max(this.nextOffset, this.replayUntil);
  }
  /** The alert state this partition's checkpoint held, kept as is while the alerter is paused. */
  restoredAlertState: Uint8Array = NO_BYTES;

  constructor(partition: number, dlqPartition: number) {
    this.partition = partition;
    this.dlqPartition = dlqPartition;
  }

  /**
   * The mark safe to persist with a checkpoint at nextOffset (see the envelope comment); once
   * nextOffset has passed every recovered dead letter, forgets them and moves to the current mark.
   */
  persistedMark(): number {
    if (this.recoveredMax >= 0 && this.nextOffset > this.recoveredMax) {
      this.recovered.clear();
      this.recoveredMax = -1;
    }
    return this.recoveredMax >= 0 ? this.recoveryMark : this.dlqMark;
  }
}
