/**
 * Constants of on-disk format v6. The byte layout they describe is drawn in docs/format.md;
 * a change here is a format change and needs a new version number.
 */

/**
 * Written in every segment header; a reader refuses any other value. v2 added the segment's
 * incarnation and largest write to the header, the segment id to the file name, and a new
 * truncation intent and DWB slot layout. v3 (pipelined batches) made the record's batch index
 * its pending index, the header's largest write the most bytes in flight at once, and let a
 * batch start on the next block after zeros. v4 added ringwal's own record types, v5 the header's
 * checkpoint LSN, v6 encryption at rest (the header's crypto area and encrypted records).
 */
export const FORMAT_VERSION = 6;

/** The fixed part of every record, before its payload. */
export const RECORD_HEADER_SIZE_BYTES = 48;

/**
 * Records start on 8-byte boundaries so every header field is naturally aligned and a scan for
 * the next candidate header after damage only has to look at one position in eight.
 */
export const RECORD_ALIGNMENT_BYTES = 8;

/**
 * The format's hard cap on one payload, checked before anything is allocated for it. A damaged
 * length field can therefore never make a reader allocate more than this. 64 MiB matches
 * nodedb-wal's MAX_WAL_PAYLOAD_SIZE; the writer's own limit (`recordPayloadBytesMax`) is lower.
 */
export const RECORD_PAYLOAD_BYTES_LIMIT = 64 * 1024 * 1024;

/** Byte offsets of the record header fields (all little-endian). */
export const RecordField = {
  CRC32C: 0,
  PAYLOAD_SIZE: 4,
  LSN: 8,
  TENANT: 16,
  DATABASE: 24,
  VSHARD: 32,
  TYPE: 36,
  SEGMENT_ID: 40,
  /**
   * The record's position among the records that were not yet durable when its batch was
   * submitted: `lsn − pendingIndex − 1` is the log's durable LSN at that moment. A batch
   * submitted to an idle log numbers its records 0, 1, 2…; one submitted behind batches in
   * flight starts higher.
   */
  PENDING_INDEX: 44,
} as const;

/** The CRC covers the header from the byte after the CRC field, then the payload. */
export const RECORD_CRC_START_BYTES = RecordField.PAYLOAD_SIZE;

/** Bit 15 of the type: a reader that does not know this type must stop rather than skip it. */
export const RECORD_TYPE_REQUIRED_FLAG = 0x8000;
/**
 * Bit 14 of the type: the payload is AES-256-GCM ciphertext followed by its 16-byte tag (set by
 * ringwal only, on every record of an encrypted segment and on no other). Readers clear it.
 */
export const RECORD_TYPE_ENCRYPTED_FLAG = 0x4000;
/** The tag that follows an encrypted payload; `payloadSize` counts it. */
export const RECORD_TAG_BYTES = 16;
/** An encrypted record's nonce: 4 zero bytes, then its LSN (u64 little-endian). */
export const RECORD_NONCE_BYTES = 12;
/** A type of zero is never written, so zeroed bytes can never parse as a record. */
export const RECORD_TYPE_INVALID = 0;
/**
 * ringwal's own record types (padding, transaction framing, checkpoints, tombstones, time anchors)
 * are the u32 values whose upper 16 bits are all set, 0xFFFF_0000 to 0xFFFF_FFFF, bit 14 included
 * or not. A user cannot append one, and readers never yield one as a user record.
 */
export const RECORD_TYPE_SYSTEM_PREFIX = 0xffff;
export function isSystemRecordType(type: number): boolean {
  return type >>> 16 === RECORD_TYPE_SYSTEM_PREFIX;
}
/** ringwal's own record types (payloads in docs/format.md and src/writer/tombstones.ts). */
export const RECORD_TYPE_TOMBSTONE = 0xffff_0001;
export const RECORD_TYPE_TEMPORAL_PURGE = 0xffff_0002;
/** A time anchor: the wall-clock ms (f64) when the batch that starts with it was encoded. */
export const RECORD_TYPE_TIME_ANCHOR = 0xffff_0003;
export const TIME_ANCHOR_PAYLOAD_BYTES = 8;
/** A checkpoint: the caller's payload, the state the log can be replayed from. */
export const RECORD_TYPE_CHECKPOINT = 0xffff_0004;
/**
 * The start of a transaction: the next `recordCount` (u32) records, all in the same batch, are
 * one transaction, replayed all or none (then a u32 kept zero).
 */
export const RECORD_TYPE_TRANSACTION = 0xffff_0005;
export const TRANSACTION_PAYLOAD_BYTES = 8;
/**
 * The most records a transaction record may announce: more than the largest batch can hold
 * (256 MiB of 48-byte headers), so a reader bounds what it gathers before the CRCs are checked.
 */
export const TRANSACTION_RECORDS_LIMIT = 8 * 1024 * 1024;
/** The type used when the caller gives none: an opaque record that replay must not skip. */
export const RECORD_TYPE_DEFAULT = RECORD_TYPE_REQUIRED_FLAG | 1;

/** The segment header lives alone in the first block of a segment; records start at the next block. */
export const SEGMENT_HEADER_SIZE_BYTES = 128;
/** "ringwal" and a NUL, so `head -c 8` of a segment names its owner. */
export const SEGMENT_MAGIC = Uint8Array.of(0x72, 0x69, 0x6e, 0x67, 0x77, 0x61, 0x6c, 0x00);

/** Byte offsets of the segment header fields (all little-endian). */
export const SegmentField = {
  MAGIC: 0,
  FORMAT_VERSION: 8,
  HEADER_SIZE: 10,
  BLOCK_SIZE: 12,
  LOG_ID: 16,
  SEGMENT_ID: 24,
  FLAGS: 28,
  FIRST_LSN: 32,
  /** Written when the segment is sealed: its last LSN (first LSN − 1 when it holds no record). */
  SEALED_LAST_LSN: 40,
  /** Written when sealed: the offset just past its last record. */
  SEALED_END: 48,
  /** Written when sealed: the offset of its last record, so open can check it without a scan. */
  SEALED_LAST_RECORD: 56,
  /**
   * The crypto area, 40 bytes, all zero in a plaintext segment: the cipher (u16, 1 =
   * AES-256-GCM), a u16 kept zero, the master key's id (u32), the segment's random salt (16
   * bytes) and the key check value (16 bytes) that tells a wrong key from damage.
   */
  CRYPTO: 64,
  CRYPTO_SIZE: 40,
  CIPHER: 64,
  CRYPTO_RESERVED: 66,
  KEY_ID: 68,
  SALT: 72,
  KEY_CHECK: 88,
  /**
   * The LSN of the last checkpoint when the segment was begun (0: none): open learns the last
   * checkpoint from the last segment alone, its header and its own records.
   */
  CHECKPOINT_LSN: 104,
  /** Segment ids up to this one were used (possibly by segments since removed); new ids go above. */
  SEGMENT_ID_FLOOR: 112,
  /**
   * Bumped each time truncateAfter cuts this segment in place: a double-write copy made before
   * the cut names the old incarnation and can never be applied to the bytes written after it.
   */
  INCARNATION: 116,
  /**
   * The most bytes any writer had (or may have) in flight at once in this segment's record area:
   * its batches in flight times its largest write. Everything a crash can tear after the last
   * valid record lies within this, so recovery looks no further.
   */
  IN_FLIGHT_BYTES_MAX: 120,
  CRC32C: 124,
} as const;

/** Segment header flag: the segment is sealed and will never be written again. */
export const SEGMENT_FLAG_SEALED = 1 << 1;
/** Segment header flag: every record of this segment is encrypted (and the crypto area is set). */
export const SEGMENT_FLAG_ENCRYPTED = 1 << 0;
/** The one cipher of format v6. */
export const CIPHER_AES_256_GCM = 1;
/** Each segment's random salt: 128 bits, so that salts do not collide (docs/design.md, "Nonces never repeat"). */
export const SEGMENT_SALT_BYTES = 16;
/** The key check value beside the salt: 128 bits of HMAC-SHA256 tell a wrong key from damage. */
export const SEGMENT_KEY_CHECK_BYTES = 16;

/** Default block: the direct-I/O alignment used when the filesystem does not report its own. */
export const BLOCK_SIZE_BYTES_DEFAULT = 4096;
/** Smallest and largest block sizes accepted from statx or a segment header. */
export const BLOCK_SIZE_BYTES_MIN = 512;
export const BLOCK_SIZE_BYTES_MAX = 65536;

/**
 * Segment file names: `wal-` + first LSN in 20 digits (u64 max has 20) + `-` + segment id in 10
 * digits (u32 max has 10) + `.seg`, so name order is LSN order, and a file that replaces a cut
 * segment (same first LSN, new id) never carries the name of the file it replaces.
 */
export const SEGMENT_NAME_PATTERN = /^wal-(\d{20})-(\d{10})\.seg$/;
export const SEGMENT_TEMP_SUFFIX = '.tmp';
export const LOCK_FILE_NAME = 'ringwal.lock';

/** LSNs are JavaScript numbers; above 2^53 they would lose precision, so that is the LSN limit. */
export const LSN_MAX = Number.MAX_SAFE_INTEGER;

/** The largest u32, the bound of every u32 header field. */
export const U32_MAX = 0xffff_ffff;
