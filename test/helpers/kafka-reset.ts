// Deletes Pulse's fixed-name topics and some consumer groups on a broker: a clean start for service tests and the kafka bench.
import { Admin } from "@platformatic/kafka";
import { kafkaBrokers } from "../../src/log/kafka/index.ts";

/** Pulse's topics have fixed names; these are the ones a run that uses them starts without. */
const PULSE_TOPICS = /^(user-activity|wikimedia\.recentchange)(\.dlq)?$|^alerts$/;

/**
 * Deletes Pulse's topics and the given groups on the broker of `url`, and waits until the topic names are
 * free again. An unreachable broker fails with a message that says how to start one.
 */
export async function resetPulseKafka(
  url: string,
  groups: readonly string[],
  clientId: string,
): Promise<void> {
  const admin = new Admin({ clientId, bootstrapBrokers: kafkaBrokers(url), timeout: 5_000, retries: 1 });
  try {
    let topics: string[];
    try {
      topics = await admin.listTopics();
    } catch (error) {
      throw new Error(
        `Kafka at ${url} is not reachable (${error instanceof Error ? error.message : String(error)}). ` +
          "Start it with scripts/services/kafka.sh start, or point the URL at a broker (kafka://host:port).",
      );
    }
    const stale = topics.filter((t) => PULSE_TOPICS.test(t));
    if (stale.length > 0) await admin.deleteTopics({ topics: stale });
    // A member of an earlier run may still be leaving (its session times out): retry while not empty.
    for (let attempt = 0; ; attempt++) {
      const known = await admin.listGroups();
      const old = groups.filter((g) => known.has(g));
      if (old.length === 0) break;
      try {
        await admin.deleteGroups({ groups: old });
        break;
      } catch (error) {
        if (attempt >= 60) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    // Deletion is asynchronous on the broker: wait until the names are free again.
    for (let i = 0; ; i++) {
      const left = (await admin.listTopics()).filter((t) => PULSE_TOPICS.test(t));
      if (left.length === 0) return;
      if (i >= 100) throw new Error(`Kafka at ${url} did not finish deleting Pulse's topics within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.close();
  }
}
