// Where the real services of scripts/services/ listen (overridable for a remote setup), and a reset for Kafka.
import { Admin } from "@platformatic/kafka";
import { kafkaBrokers } from "../../src/log/kafka.ts";

export const KAFKA_URL = process.env.PULSE_TEST_KAFKA ?? "kafka://127.0.0.1:9092";
export const MONGODB_URL = process.env.PULSE_TEST_MONGODB ?? "mongodb://127.0.0.1:27017";

/** Pulse's topics have fixed names; these are the ones a test that uses them starts without. */
const PULSE_TOPICS = /^(user-activity|wikimedia\.recentchange)(\.dlq)?$|^alerts$/;

/**
 * Deletes Pulse's fixed-name topics and the given consumer groups on the test broker, so a test that
 * runs the real CLI on Kafka starts from an empty log. Service tests run one file at a time.
 */
export async function resetKafka(groups: readonly string[] = []): Promise<void> {
  const admin = new Admin({ clientId: "pulse-test-reset", bootstrapBrokers: kafkaBrokers(KAFKA_URL) });
  try {
    const topics = (await admin.listTopics()).filter((t) => PULSE_TOPICS.test(t));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    // A member of an earlier test may still be leaving (its session times out): retry while not empty.
    for (let attempt = 0; ; attempt++) {
      const known = await admin.listGroups();
      const stale = groups.filter((g) => known.has(g));
      if (stale.length === 0) break;
      try {
        await admin.deleteGroups({ groups: stale });
        break;
      } catch (error) {
        if (attempt >= 60) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    // Deletion is asynchronous on the broker: wait until the names are free again.
    for (let i = 0; i < 100; i++) {
      const left = (await admin.listTopics()).filter((t) => PULSE_TOPICS.test(t));
      if (left.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("Kafka did not finish deleting Pulse's topics within 10 s");
  } finally {
    await admin.close();
  }
}
