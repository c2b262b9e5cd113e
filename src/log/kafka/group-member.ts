// A Kafka consumer-group membership: its assignment from the client's group events, and its loss.

import type { Consumer } from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../../errors.ts";
import type { GroupMember, RecordPosition } from "../index.ts";

/**
 * A Kafka consumer-group membership (classic protocol, eager rebalancing): heartbeats run in the
 * background; when the coordinator starts a rebalance the member owns nothing until the new
 * assignment arrives, so a reader stops touching partitions that may move. When the client gives up
 * rejoining the group (its retries spent), the membership is lost: ready() rejects with the reason
 * instead of waiting for an assignment that will not come.
 */
export class KafkaGroupMember implements GroupMember {
  readonly group: string;
  #generation = 0;
  #assignment = new Map<string, number[]>();
  #left = false;
  #lost: LogError | undefined;
  #whenReady: Deferred;
  readonly #consumer: Consumer;
  readonly #failure: (action: string, error: unknown) => LogError;
  readonly #onLeave: () => void;

  constructor(
    group: string,
    consumer: Consumer,
    failure: (action: string, error: unknown) => LogError,
    onLeave: () => void,
  ) {
    this.group = group;
    this.#consumer = consumer;
    this.#failure = failure;
    this.#onLeave = onLeave;
    this.#whenReady = deferred();
    consumer.on("consumer:group:rebalance", () => this.#revokeAll());
    consumer.on("consumer:group:join", () => this.joined());
    consumer.on("consumer:group:leave", () => this.#revokeAll());
    // The client emits "error" when rejoining the group failed for good; unheard, it would crash the process.
    consumer.on("error", (error: unknown) => this.#lose(error));
  }

  get generation(): number {
    return this.#generation;
  }

  /** Takes the consumer's current assignment (after a join or sync). */
  joined(): void {
    const next = new Map<string, number[]>();
    for (const { topic, partitions } of this.#consumer.assignments ?? []) {
      next.set(
        topic,
        [...partitions].sort((a, b) => a - b),
      );
    }
    this.#assignment = next;
    this.#generation++;
    this.#whenReady.resolve();
  }

  #revokeAll(): void {
    if (this.#assignment.size === 0) return;
    this.#assignment = new Map();
    this.#generation++;
    this.#whenReady = deferred();
  }

  assigned(topic: string): number[] {
    return this.#assignment.get(topic) ?? [];
  }

  ready(): Promise<void> {
    return this.#lost === undefined ? this.#whenReady.promise : Promise.reject(this.#lost);
  }

  #lose(error: unknown): void {
    if (this.#left || this.#lost !== undefined) return;
    const reason = this.#failure(`rejoin consumer group "${this.group}"`, error);
    this.#lost = new LogError(
      LogErrorCode.unavailable,
      `This process lost its membership of consumer group "${this.group}" and could not rejoin it: ${reason.message} Restart it; its partitions resume from their checkpoints.`,
      { cause: error },
    );
    this.#assignment = new Map();
    this.#generation++;
    this.#whenReady.reject(this.#lost);
    // Nobody may be waiting yet: the rejection is also returned by every later ready().
    this.#whenReady.promise.catch(() => undefined);
  }

  async commit(topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    if (this.#left || offsets.length === 0) return;
    try {
      await this.#consumer.commit({
        offsets: offsets.map((o) => ({
          topic,
          partition: o.partition,
          offset: BigInt(o.offset),
          leaderEpoch: -1,
        })),
      });
    } catch (error) {
      throw this.#failure(`commit offsets of group "${this.group}" on "${topic}"`, error);
    }
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    this.#assignment = new Map();
    this.#generation++;
    this.#onLeave();
    await new Promise<void>((resolve) => this.#consumer.leaveGroup(true, () => resolve()));
    await closeConsumer(this.#consumer);
  }
}

/** Closes a consumer even with requests in flight; its errors do not matter any more. */
export function closeConsumer(consumer: Consumer): Promise<void> {
  return new Promise((resolve) => consumer.close(true, () => resolve()));
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function deferred(): Deferred {
  let resolve = () => {};
  let reject = (_error: Error) => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
