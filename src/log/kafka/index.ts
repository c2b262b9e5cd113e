// The Kafka log's public entry: the log, its options, the kafka:// URL parser and the codec check.

export { KafkaLog } from "./log.ts";
export {
  compressionUnavailable,
  type KafkaLogOptions,
  type KafkaTopicOptions,
  kafkaBrokers,
} from "./options.ts";
