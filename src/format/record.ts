/**
 * Record encoding and decoding (format drawn in docs/format.md).
 *
 * The writer encodes a record straight into the aligned write buffer through a Uint32Array view,
 * so the payload is copied exactly once, from the caller's buffer to the memory the kernel writes
 * from. The CRC is filled in later for the whole batch in one native call.
 */
import {
  LSN_MAX,
  RECORD_CRC_START_BYTES,
  RECORD_ALIGNMENT_BYTES,
  RECORD_HEADER_SIZE_BYTES,
  RECORD_PAYLOAD_BYTES_LIMIT,
  RECORD_NONCE_BYTES,
  RECORD_TAG_BYTES,
  RECORD_TYPE_ENCRYPTED_FLAG,
  RECORD_TYPE_INVALID,
  RecordField,
  TRANSACTION_PAYLOAD_BYTES,
  TRANSACTION_RECORDS_LIMIT,
} from './constants.js';
import { endianness } from 'node:os';
import { TWO_POW_32, getU64 } from './u64.js';

// The encoder writes header words through a Uint32Array, which is little-endian only on a
// little-endian host; ringwal targets x86-64 and arm64 Linux, both little-endian.
if (endianness() !== 'LE') throw new Error('ringwal requires a little-endian host');

/** Bytes a record with this payload occupies in the log, padding included. */
export function recordSpanBytes(payloadSizeBytes: number): number {
  const sizeBytes = RECORD_HEADER_SIZE_BYTES + payloadSizeBytes;
  return (sizeBytes + RECORD_ALIGNMENT_BYTES - 1) & ~(RECORD_ALIGNMENT_BYTES - 1);
}

/**
 * Puts the byte range the CRC of a record covers (header after the CRC field, then the payload)
 * at pair `index` of `ranges`, in the layout crc32cRanges takes.
 */
export function setRecordCrcRange(ranges: Uint32Array, index: number, offsetBytes: number, payloadSizeBytes: number): void {
  ranges[2 * index] = offsetBytes + RECORD_CRC_START_BYTES;
  ranges[2 * index + 1] = RECORD_HEADER_SIZE_BYTES - RECORD_CRC_START_BYTES + payloadSizeBytes;
}

export interface RecordMeta {
  type: number;
  tenant: number;
  vshard: number;
  database: number;
}

/**
 * Writes the header (CRC left zero) and the payload at `offsetBytes`, and zeroes the padding.
 * `words` and `bytes` view the same buffer; `offsetBytes` is a multiple of 8. With `tagBytes`
 * (an encrypted segment's RECORD_TAG_BYTES), the record is one to be encrypted: its type has bit
 * 14 set, its size counts the tag, and the tag's room follows the payload (sealBatch fills it).
 */
export function encodeRecord(
  words: Uint32Array,
  bytes: Uint8Array,
  offsetBytes: number,
  payload: Uint8Array,
  lsn: number,
  meta: RecordMeta,
  segmentId: number,
  pendingIndex: number,
  tagBytes = 0,
): number {
  const w = offsetBytes >>> 2;
  const payloadSizeBytes = payload.byteLength + tagBytes;
  words[w] = 0;
  words[w + 1] = payloadSizeBytes;
  words[w + 2] = lsn >>> 0 === lsn ? lsn : lsn % TWO_POW_32;
  words[w + 3] = lsn < TWO_POW_32 ? 0 : Math.floor(lsn / TWO_POW_32);
  const tenant = meta.tenant;
  words[w + 4] = tenant < TWO_POW_32 ? tenant : tenant % TWO_POW_32;
  words[w + 5] = tenant < TWO_POW_32 ? 0 : Math.floor(tenant / TWO_POW_32);
  const database = meta.database;
  words[w + 6] = database < TWO_POW_32 ? database : database % TWO_POW_32;
  words[w + 7] = database < TWO_POW_32 ? 0 : Math.floor(database / TWO_POW_32);
  words[w + 8] = meta.vshard;
  words[w + 9] = tagBytes === 0 ? meta.type : (meta.type | RECORD_TYPE_ENCRYPTED_FLAG) >>> 0;
  words[w + 10] = segmentId;
  words[w + 11] = pendingIndex;
  bytes.set(payload, offsetBytes + RECORD_HEADER_SIZE_BYTES);
  const endBytes = offsetBytes + RECORD_HEADER_SIZE_BYTES + payloadSizeBytes;
  const spanEndBytes = offsetBytes + recordSpanBytes(payloadSizeBytes);
  if (spanEndBytes > endBytes) bytes.fill(0, endBytes, spanEndBytes);
  return spanEndBytes;
}

export interface RecordHeader {
  crc32c: number;
  payloadSizeBytes: number;
  lsn: number;
  tenant: number;
  database: number;
  vshard: number;
  type: number;
  segmentId: number;
  pendingIndex: number;
}

/** Reads the 48 header bytes at `offsetBytes`; the caller guarantees they are inside `view`. */
export function decodeRecordHeader(view: DataView, offsetBytes: number): RecordHeader {
  return {
    crc32c: view.getUint32(offsetBytes + RecordField.CRC32C, true),
    payloadSizeBytes: view.getUint32(offsetBytes + RecordField.PAYLOAD_SIZE, true),
    lsn: getU64(view, offsetBytes + RecordField.LSN),
    tenant: getU64(view, offsetBytes + RecordField.TENANT),
    database: getU64(view, offsetBytes + RecordField.DATABASE),
    vshard: view.getUint32(offsetBytes + RecordField.VSHARD, true),
    type: view.getUint32(offsetBytes + RecordField.TYPE, true),
    segmentId: view.getUint32(offsetBytes + RecordField.SEGMENT_ID, true),
    pendingIndex: view.getUint32(offsetBytes + RecordField.PENDING_INDEX, true),
  };
}

/**
 * The checks that need no CRC: they reject zeroed space, stale bytes of another segment and
 * lengths that could never have been written, before any payload is read or allocated.
 * Returns null when the header is plausible, otherwise why it is not.
 */
export function checkRecordHeader(header: RecordHeader, segmentId: number, payloadBytesLimit: number, encrypted = false): string | null {
  if (header.type === RECORD_TYPE_INVALID) return 'record type 0 (zeroed or unwritten space)';
  if (((header.type & RECORD_TYPE_ENCRYPTED_FLAG) !== 0) !== encrypted) {
    return encrypted ? 'a plaintext record (type bit 14 clear) in an encrypted segment' : 'an encrypted record (type bit 14 set) in a plaintext segment';
  }
  if (encrypted && header.payloadSizeBytes < RECORD_TAG_BYTES) return `payload size ${header.payloadSizeBytes} is shorter than the tag`;
  if (header.segmentId !== segmentId) return `segment id ${header.segmentId} is not this segment's ${segmentId}`;
  if (header.lsn < 1 || header.lsn > LSN_MAX) return `LSN ${header.lsn} out of range`;
  if (header.pendingIndex >= header.lsn) return `pending index ${header.pendingIndex} not below LSN ${header.lsn}`;
  const limitBytes = Math.min(payloadBytesLimit, RECORD_PAYLOAD_BYTES_LIMIT);
  if (header.payloadSizeBytes > limitBytes) {
    return `payload size ${header.payloadSizeBytes} above the limit of ${limitBytes}`;
  }
  return null;
}

/** The payload of a transaction record (docs/format.md): how many records follow in it. */
export function encodeTransactionStart(recordCount: number, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, TRANSACTION_PAYLOAD_BYTES);
  view.setUint32(0, recordCount, true);
  view.setUint32(4, 0, true);
}

/**
 * How many records the transaction record whose payload is at `offsetBytes` of `view` announces,
 * or null when `payloadSizeBytes` or the content is not a transaction record's.
 */
export function decodeTransactionStart(view: DataView, offsetBytes: number, payloadSizeBytes: number): number | null {
  if (payloadSizeBytes !== TRANSACTION_PAYLOAD_BYTES) return null;
  const count = view.getUint32(offsetBytes, true);
  if (count < 1 || count > TRANSACTION_RECORDS_LIMIT || view.getUint32(offsetBytes + 4, true) !== 0) return null;
  return count;
}

/** The type a record was appended with: its stored type without the encryption bit. */
export function logicalRecordType(storedType: number): number {
  return (storedType & ~RECORD_TYPE_ENCRYPTED_FLAG) >>> 0;
}

/**
 * An AES-256-GCM key for one segment's records, in the batch layout of the native seal and open
 * (docs/native-api.md): 5 u32 per record in `ranges` (AAD offset and length, data offset and
 * length, tag offset), 12 bytes of nonce per record in `nonces`. Open writes 0 or a negative
 * errno (-EBADMSG: the tag does not hold) per record into `results`.
 */
export interface RecordCipher {
  seal(view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): void;
  open(view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number, results: Int32Array): void;
  /** Open off the event loop: resolves to how many records, from the first, hold their tag. */
  openAsync(view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): Promise<number>;
  /** Seal off the event loop; the records' bytes must be left alone until it settles. */
  sealAsync(view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): Promise<void>;
}

/** Fields per record in a RecordCipher's `ranges`. */
export const CIPHER_RANGE_FIELDS = 5;

/**
 * The ranges and nonces of up to `capacity` records for one RecordCipher call. The nonces are
 * written as u32 words (4 zero bytes, the LSN's low and high words) and handed over as bytes.
 */
export class CipherBatch {
  readonly ranges: Uint32Array;
  readonly nonces: Uint8Array;
  private readonly nonceWords: Uint32Array;

  constructor(readonly capacity: number) {
    this.ranges = new Uint32Array(CIPHER_RANGE_FIELDS * capacity);
    this.nonceWords = new Uint32Array((RECORD_NONCE_BYTES / 4) * capacity);
    this.nonces = new Uint8Array(this.nonceWords.buffer);
  }

  /**
   * Puts the AEAD ranges and nonce of the encrypted record at `offsetBytes` of the view (its
   * stored payload `storedPayloadBytes` long, tag included) at `index`: the AAD is its header
   * after the CRC field (the bytes the CRC covers before the payload); the nonce is 4 zero
   * bytes and its LSN (u64 little-endian: the host is little-endian, checked above).
   */
  set(index: number, offsetBytes: number, storedPayloadBytes: number, lsn: number): void {
    const r = index * CIPHER_RANGE_FIELDS;
    const ranges = this.ranges;
    const dataBytes = storedPayloadBytes - RECORD_TAG_BYTES;
    ranges[r] = offsetBytes + RECORD_CRC_START_BYTES;
    ranges[r + 1] = RECORD_HEADER_SIZE_BYTES - RECORD_CRC_START_BYTES;
    ranges[r + 2] = offsetBytes + RECORD_HEADER_SIZE_BYTES;
    ranges[r + 3] = dataBytes;
    ranges[r + 4] = offsetBytes + RECORD_HEADER_SIZE_BYTES + dataBytes;
    const n = index * 3;
    const words = this.nonceWords;
    words[n] = 0;
    words[n + 1] = lsn >>> 0 === lsn ? lsn : lsn % TWO_POW_32;
    words[n + 2] = lsn < TWO_POW_32 ? 0 : Math.floor(lsn / TWO_POW_32);
  }
}
