// Where the real services of scripts/services/ listen (overridable for a remote setup), and a reset for Kafka.
import { resetPulseKafka } from "../helpers/kafka-reset.ts";

export const KAFKA_URL = process.env.PULSE_TEST_KAFKA ?? "kafka://127.0.0.1:9092";
export const MONGODB_URL = process.env.PULSE_TEST_MONGODB ?? "mongodb://127.0.0.1:27017";

/**
 * Deletes Pulse's fixed-name topics and the given consumer groups on the test broker, so a test that
 * runs the real CLI on Kafka starts from an empty log. Service tests run one file at a time.
 */
export async function resetKafka(groups: readonly string[] = []): Promise<void> {
  await resetPulseKafka(KAFKA_URL, groups, "pulse-test-reset");
}
