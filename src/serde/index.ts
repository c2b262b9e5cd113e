// Serde: Avro in the Confluent wire format, the one byte format of every topic.

export { AvroSerde, type AvroSerdeOptions, type Encoder } from "./avro-serde.ts";
export { frameSchemaId, HEADER_BYTES, MAGIC_BYTE, readSchemaId } from "./wire-format.ts";
