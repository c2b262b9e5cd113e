// KafkaGroupMember: a consumer-group membership driven by the client's group events, against a stand-in client.
import { EventEmitter } from "node:events";
import type { Consumer } from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import { LogError, LogErrorCode } from "../../errors.ts";
import { KafkaGroupMember } from "./group-member.ts";

/** What the member reads of the client: its group events and its current assignment. */
class StandInConsumer extends EventEmitter {
  assignments: Array<{ topic: string; partitions: number[] }> = [];
  leaveGroup(_force: boolean, callback: () => void): void {
    callback();
  }
  close(_force: boolean, callback: () => void): void {
    callback();
  }
}

function member(consumer: StandInConsumer): KafkaGroupMember {
  return new KafkaGroupMember(
    "pulse-stream",
    consumer as unknown as Consumer,
    (action, error) => new LogError(LogErrorCode.unavailable, `${action}: ${String(error)}`),
    () => {},
  );
}

/** Whether the promise has settled after the pending microtasks ran. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe("KafkaGroupMember", () => {
  it("owns nothing during a rebalance and takes the new assignment when the client rejoins", async () => {
    const consumer = new StandInConsumer();
    const m = member(consumer);
    consumer.assignments = [{ topic: "user-activity", partitions: [2, 0] }];
    m.joined();
    expect(m.assigned("user-activity")).toEqual([0, 2]);
    await m.ready();

    consumer.emit("consumer:group:rebalance");
    expect(m.assigned("user-activity")).toEqual([]);
    const waiting = m.ready();
    expect(await settled(waiting)).toBe(false);

    consumer.assignments = [{ topic: "user-activity", partitions: [1] }];
    consumer.emit("consumer:group:join");
    await waiting;
    expect(m.assigned("user-activity")).toEqual([1]);
  });

  it("rejects ready() with the reason when the client gives up rejoining, instead of waiting for ever", async () => {
    const consumer = new StandInConsumer();
    const m = member(consumer);
    consumer.assignments = [{ topic: "user-activity", partitions: [0, 1] }];
    m.joined();
    consumer.emit("consumer:group:rebalance");
    const waiting = m.ready();
    const generation = m.generation;

    // Unheard, this "error" event would throw out of the client's callback and end the process.
    consumer.emit("error", new Error("The coordinator is not available."));
    await expect(waiting).rejects.toMatchObject({
      code: LogErrorCode.unavailable,
      message: expect.stringMatching(
        /lost its membership of consumer group "pulse-stream" and could not rejoin it: .*coordinator is not available.* Restart it/,
      ),
    });
    expect(m.generation).toBeGreaterThan(generation);
    expect(m.assigned("user-activity")).toEqual([]);
    // Also for a job that asks only later.
    await expect(m.ready()).rejects.toBeInstanceOf(LogError);
  });

  it("ignores the client's errors once it has left the group", async () => {
    const consumer = new StandInConsumer();
    const m = member(consumer);
    m.joined();
    await m.leave();
    consumer.emit("error", new Error("closed"));
    expect(await settled(m.ready())).toBe(true);
    await expect(m.ready()).resolves.toBeUndefined();
  });
});
