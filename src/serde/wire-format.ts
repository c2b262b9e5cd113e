// The Confluent wire format's 5-byte header: reading and writing it, with errors for bytes that are not a frame.

import { SerdeError, SerdeErrorCode } from "../errors.ts";

/*
 * Confluent wire format, one record value:
 *
 *   frame     = magic schema-id payload
 *   magic     = %x00                    ; 1 byte, format version
 *   schema-id = 4OCTET                  ; unsigned 32-bit big-endian, the registry's global schema id
 *   payload   = *OCTET                  ; Avro binary encoding with the writer schema; no container,
 *                                       ; no sync marker, and nothing after the value
 *
 * The writer schema is looked up by id, so a reader resolves it into whatever reader schema it holds.
 */
export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

/** Writes the 5-byte header at `at` (default the start of `buf`). */
export function writeHeader(buf: Buffer, schemaId: number, at = 0): void {
  buf[at] = MAGIC_BYTE;
  buf.writeUInt32BE(schemaId, at + 1);
}

/** The schema id of a frame; throws a SerdeError when the bytes cannot be a frame at all. */
export function readSchemaId(buf: Uint8Array | null | undefined): number {
  if (!(buf instanceof Uint8Array)) {
    // A log record's value may be null (a tombstone); consumers hand it over as is.
    throw new SerdeError(
      SerdeErrorCode.invalidPayload,
      "Record has no value bytes (null value or tombstone)",
    );
  }
  if (buf.length < HEADER_BYTES) {
    throw new SerdeError(
      SerdeErrorCode.truncated,
      `Record value has ${buf.length} bytes; a Confluent wire-format frame needs at least ${HEADER_BYTES}`,
      { details: { sizeBytes: buf.length } },
    );
  }
  if (buf[0] !== MAGIC_BYTE) {
    throw new SerdeError(
      SerdeErrorCode.badMagicByte,
      `Record value starts with byte ${buf[0]}, not the Confluent magic byte 0; it was not written by an Avro serializer with a schema registry`,
      { details: { magicByte: buf[0] } },
    );
  }
  return schemaIdAt(buf);
}

/** The schema id of a frame, or −1 when the bytes cannot be one (readSchemaId says why), without throwing. */
export function frameSchemaId(buf: Uint8Array | null): number {
  return buf !== null && buf.length >= HEADER_BYTES && buf[0] === MAGIC_BYTE ? schemaIdAt(buf) : -1;
}

/** Read by hand so a plain Uint8Array works as well as a Buffer. */
function schemaIdAt(buf: Uint8Array): number {
  return ((buf[1]! << 24) >>> 0) + (buf[2]! << 16) + (buf[3]! << 8) + buf[4]!;
}
