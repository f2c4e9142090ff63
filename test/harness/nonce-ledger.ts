/**
 * The simulator's nonce oracle (docs/encryption.md, "Nonces never repeat under one key"): after
 * every process, each CRC-valid encrypted record on the simulated disk is noted under its data
 * key (the segment's key id and salt, and the segment id) and nonce (its LSN). A pair seen again
 * with other ciphertext means two plaintexts were encrypted under one key and nonce: a violation.
 */
import { RECORD_HEADER_SIZE_BYTES, RECORD_PAYLOAD_BYTES_LIMIT, RECORD_TYPE_ENCRYPTED_FLAG, SEGMENT_HEADER_SIZE_BYTES } from '../../dist/format/constants.js';
import { crc32c } from '../../dist/format/crc32c.js';
import { decodeRecordHeader } from '../../dist/format/record.js';
import { decodeSegmentHeader } from '../../dist/format/segment-header.js';
import type { SimDisk } from '../../dist/sim/sim-disk.js';
import { SimViolation } from './oracle.js';

const SEGMENT_FILE = /\/wal-\d{20}-\d{10}\.seg(\.tmp)?$|\/wal-(prepared|cut)\.seg\.tmp$/;

export class NonceLedger {
  private readonly seen = new Map<string, number>();
  /** Pairs compared so far (for the report). */
  pairs = 0;

  check(disk: SimDisk, when: string): void {
    for (const [path, inode] of disk.files()) {
      if (!SEGMENT_FILE.test(path)) continue;
      const image = inode.current;
      const bytes = image.bytes.subarray(0, image.sizeBytes);
      if (bytes.byteLength < SEGMENT_HEADER_SIZE_BYTES) continue;
      const decoded = decodeSegmentHeader(bytes.subarray(0, SEGMENT_HEADER_SIZE_BYTES));
      if (!decoded.ok || decoded.header.crypto === null) continue;
      const { header } = decoded;
      const keyOf = `${header.crypto!.keyId}:${Buffer.from(header.crypto!.salt).toString('hex')}:${header.segmentId}:`;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      // Every 8-byte position after the header block that holds a CRC-valid encrypted record of
      // this segment (batches may start after zeros; a torn write leaves garbage between them).
      for (let at = header.blockSizeBytes; at + RECORD_HEADER_SIZE_BYTES <= bytes.byteLength; at += 8) {
        if (view.getUint32(at + 36, true) === 0) continue;
        const r = decodeRecordHeader(view, at);
        if ((r.type & RECORD_TYPE_ENCRYPTED_FLAG) === 0 || r.segmentId !== header.segmentId || r.payloadSizeBytes > RECORD_PAYLOAD_BYTES_LIMIT) continue;
        const end = at + RECORD_HEADER_SIZE_BYTES + r.payloadSizeBytes;
        if (end > bytes.byteLength || crc32c(bytes.subarray(at + 4, end)) !== r.crc32c) continue;
        // The CRC covers the ciphertext and tag: it stands for them.
        const key = keyOf + r.lsn;
        const before = this.seen.get(key);
        if (before === undefined) {
          this.seen.set(key, r.crc32c);
          this.pairs += 1;
        } else if (before !== r.crc32c) {
          throw new SimViolation(`${when}: LSN ${r.lsn} of segment ${header.segmentId} (${path}) was encrypted twice under one key and nonce`);
        }
      }
    }
  }
}
