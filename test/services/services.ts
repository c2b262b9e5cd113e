// Where the real services of scripts/services/ listen; overridable for a remote setup.
export const KAFKA_URL = process.env.PULSE_TEST_KAFKA ?? "kafka://127.0.0.1:9092";
export const MONGODB_URL = process.env.PULSE_TEST_MONGODB ?? "mongodb://127.0.0.1:27017";
