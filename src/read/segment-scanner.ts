/**
 * Sequential, bounded-memory scan of one segment's records, shared by recovery and the readers.
 *
 * It reads whole aligned blocks (so it works on O_DIRECT files), parses every complete record in
 * the buffer, checks all their CRCs in one native call, and hands out the valid prefix. It stops
 * at the first record that is not exactly the next one expected: a bad header, a CRC mismatch, an
 * LSN out of sequence, or a record cut off by the end. It never returns a damaged record; what
 * the stop means (end of the log, torn tail, hole) is for the caller to decide.
 *
 * One gap is part of the format: zeros from inside a block to its end, followed at the block
 * boundary by exactly the record expected next. A batch submitted while another is in flight
 * starts on a fresh block (the two must never share one), and this is how readers step over
 * the rest of the block before it. Records written contiguously never look like that: the
 * record after zeros would have to carry the LSN of the first record the zeros replaced.
 *
 * A transaction (a transaction record announcing the next N records, all in one batch) is handed
 * out whole or not at all: the scan holds back its records until the last one is parsed and
 * CRC-checked, and a scan that stops inside one stops before its transaction record. Recovery,
 * the readers and followers all see a torn transaction as the end of the valid records there.
 */
import assert from 'node:assert/strict';
import { WalAuthError, WalCorruptionError } from '../errors.js';
import { RECORD_HEADER_SIZE_BYTES, RECORD_TAG_BYTES, RECORD_TYPE_TRANSACTION } from '../format/constants.js';
import {
  checkRecordHeader,
  CipherBatch,
  decodeRecordHeader,
  decodeTransactionStart,
  logicalRecordType,
  recordSpanBytes,
  setRecordCrcRange,
  type RecordCipher,
  type RecordHeader,
} from '../format/record.js';
import { readFull, type AlignedBuffer, type Io, type IoFile } from '../io/io.js';

/** Read granularity: large enough to amortise a read per 1 MiB, small enough to keep readers light. */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

/** The LSNs of a transaction's records (its transaction record is the one before the first). */
export interface TransactionSpan {
  readonly firstLsn: number;
  readonly lastLsn: number;
}

export interface ScannedRecord {
  header: RecordHeader;
  /** File offset of the record's first byte. */
  offsetBytes: number;
  /** Where its payload is in the scanner's buffer (`payloadOf`, `copyPayload`): valid only until the next call to `next()`. */
  payloadAtBytes: number;
  /** The transaction the record is part of (its transaction record included), or null. One object per transaction. */
  transaction: TransactionSpan | null;
  /**
   * Its payload in the buffer is still ciphertext (an encrypted segment): `payloadOf`,
   * `copyPayload` and `openPayloads` decrypt it there, checking its tag. The header already
   * says what was appended: its type without bit 14, its payload size without the tag.
   */
  sealed: boolean;
}

export type ScanStop = { kind: 'end'; offsetBytes: number } | { kind: 'invalid'; offsetBytes: number; reason: string };

export interface SegmentScannerOptions {
  segmentId: number;
  /** Where records start: the block after the segment header. */
  dataStartBytes: number;
  /** The scan never looks at bytes at or beyond this offset. */
  endBytes: number;
  /** The LSN the first record must carry. */
  firstLsn: number;
  payloadBytesLimit: number;
  /** Records above this LSN are not returned: the scan ends cleanly just before them. */
  lsnLimit?: number;
  /**
   * Continue where an earlier scan of the same file left off (a follower's next round): the
   * offset just past the last valid record it returned and that record's pending index.
   * `firstLsn` is then the LSN expected there. The rules are those of a scan from the start.
   */
  resume?: ScanPosition;
  /** A buffer to scan in, if it is large enough (a follower reuses one across its rounds). */
  buffer?: AlignedBuffer;
  /**
   * Keep the next chunk's read in flight while the current one is parsed (readers of whole
   * segments). Off for recovery, which must not read ahead of what it decides about.
   */
  readAhead?: boolean;
  /** The segment's key when it is encrypted (its header's flag bit 0), else null or absent. */
  cipher?: RecordCipher | null;
}

/** A read issued ahead of need: the bytes at `atBytes`, `done` resolving to how many arrived. */
interface AheadRead {
  atBytes: number;
  buffer: AlignedBuffer;
  done: Promise<number>;
  /** Fewer bytes than asked for arrived: the file ends there. */
  short: Promise<boolean>;
}

/** Where a scan stands between two records: enough to continue it exactly. */
export interface ScanPosition {
  offsetBytes: number;
  previousPendingIndex: number;
}

export class SegmentScanner {
  private buffer: AlignedBuffer;
  private view: DataView;
  /** The buffer as a Buffer, to copy payloads out of without a view per record. */
  private nodeBuffer: Buffer;
  /** File offset of buffer byte 0; always a multiple of the block size. */
  private bufferFileOffsetBytes: number;
  /** Bytes read into the buffer from `bufferFileOffsetBytes`. */
  private bufferLengthBytes = 0;
  private physicalEof = false;
  private positionBytes: number;
  private expectedLsn: number;
  /** The first record of a segment was written to an idle log: its pending index is 0. */
  private previousPendingIndex = -1;
  private lastRecordOffsetBytes = 0;
  private ahead: AheadRead | null = null;
  private spareAhead: AlignedBuffer | null = null;
  private ranges = new Uint32Array(2 * 1024);
  private crcs = new Uint32Array(1024);
  private readonly cipher: RecordCipher | null;
  private cipherBatch = new CipherBatch(0);
  private openResults = new Int32Array(0);
  private readonly singleBatch = new CipherBatch(1);
  stop: ScanStop | null = null;

  constructor(
    private readonly io: Io,
    private readonly file: IoFile,
    private readonly options: SegmentScannerOptions,
  ) {
    const block = file.alignmentBytes;
    assert(options.dataStartBytes % block === 0, 'data start must be block aligned');
    const startBytes = options.resume?.offsetBytes ?? options.dataStartBytes;
    // No larger than what the scan may read (a follower's round reads a block or two); it grows
    // for a record larger than it.
    const spanBytes = Math.max(block, Math.ceil((options.endBytes - Math.floor(startBytes / block) * block) / block) * block);
    const initialBytes = Math.min(SCAN_CHUNK_BYTES, spanBytes);
    const given = options.buffer;
    this.buffer =
      given !== undefined && given.bytes.byteLength >= initialBytes && given.bytes.byteOffset % block === 0 ? given : io.allocAligned(initialBytes, block);
    this.view = new DataView(this.buffer.arrayBuffer);
    this.nodeBuffer = Buffer.from(this.buffer.bytes.buffer, this.buffer.bytes.byteOffset, this.buffer.bytes.byteLength);
    if (options.resume !== undefined) {
      assert(startBytes >= options.dataStartBytes && startBytes <= options.endBytes, 'a resumed scan starts inside the data of its segment');
    }
    this.bufferFileOffsetBytes = Math.floor(startBytes / block) * block;
    this.positionBytes = startBytes;
    this.expectedLsn = options.firstLsn;
    if (options.resume !== undefined) this.previousPendingIndex = options.resume.previousPendingIndex;
    this.cipher = options.cipher ?? null;
  }

  /** A view of the payload of a record the last `next()` returned, valid until the next call. */
  payloadOf(record: ScannedRecord): Uint8Array {
    if (record.sealed) this.openPayloads([record]);
    return this.buffer.bytes.subarray(record.payloadAtBytes, record.payloadAtBytes + record.header.payloadSizeBytes);
  }

  /** A copy of the payload of a record the last `next()` returned. */
  copyPayload(record: ScannedRecord): Buffer {
    if (record.sealed) this.openPayloads([record]);
    const sizeBytes = record.header.payloadSizeBytes;
    // Every byte is written by the copy: nothing of the unsafe allocation shows.
    const out = Buffer.allocUnsafe(sizeBytes);
    this.nodeBuffer.copy(out, 0, record.payloadAtBytes, record.payloadAtBytes + sizeBytes);
    return out;
  }

  /**
   * Decrypts, in place and in one native call, the payloads of the records (of the last
   * `next()`) still sealed. A tag that does not hold, on a record whose CRC did, is tampering or
   * a wrong key: WalAuthError naming the segment and the LSN, never the end of the log.
   */
  openPayloads(records: readonly ScannedRecord[]): void {
    const cipher = this.cipher;
    let count = 0;
    for (const r of records) if (r.sealed) count += 1;
    if (count === 0) return;
    assert(cipher !== null, 'only an encrypted segment has sealed records');
    if (this.cipherBatch.capacity < count) {
      this.cipherBatch = new CipherBatch(count);
      this.openResults = new Int32Array(count);
    }
    const batch = this.cipherBatch;
    let i = 0;
    for (const r of records) {
      if (r.sealed) batch.set(i++, r.payloadAtBytes - RECORD_HEADER_SIZE_BYTES, r.header.payloadSizeBytes + RECORD_TAG_BYTES, r.header.lsn);
    }
    const results = this.openResults;
    cipher.open(this.buffer.bytes, batch.ranges, batch.nonces, count, results);
    i = 0;
    for (const r of records) {
      if (!r.sealed) continue;
      // A failed record's bytes are unspecified now: it is never handed out, nor is anything after it.
      if (results[i++] !== 0) throw new WalAuthError(this.file.path, r.header.lsn);
      r.sealed = false;
    }
  }

  /**
   * Copies the records (of the last `next()`, all still sealed) out of the scan buffer into one
   * new buffer (in one copy when they lie together, as a whole step does), header and ciphertext
   * and tag each, and decrypts them there in the thread pool,
   * off the event loop: `payloads[i]` is record i's payload, a view of that buffer, plaintext
   * once `ready` resolves; `ready` rejects with WalAuthError naming the first record whose tag
   * fails. The scan buffer is free at once: the next step is parsed while this one decrypts.
   */
  detachSealed(records: readonly ScannedRecord[]): { payloads: Buffer[]; ready: Promise<void> } {
    const cipher = this.cipher;
    assert(cipher !== null, 'only an encrypted segment has sealed records');
    let totalBytes = 0;
    for (const r of records) {
      assert(r.sealed, 'a detached record is still sealed');
      totalBytes += RECORD_HEADER_SIZE_BYTES + r.header.payloadSizeBytes + RECORD_TAG_BYTES;
    }
    const first = records[0]!;
    const last = records[records.length - 1]!;
    const regionStartBytes = first.payloadAtBytes - RECORD_HEADER_SIZE_BYTES;
    const regionEndBytes = last.payloadAtBytes + last.header.payloadSizeBytes + RECORD_TAG_BYTES;
    // Records that lie together (a whole step, no filter) go in one copy, gaps and padding
    // included; others one by one.
    const whole = regionEndBytes - regionStartBytes <= 2 * totalBytes;
    const slab = Buffer.allocUnsafeSlow(whole ? regionEndBytes - regionStartBytes : totalBytes);
    // Every byte of the slab is written below: nothing of the unsafe allocation shows.
    if (whole) this.nodeBuffer.copy(slab, 0, regionStartBytes, regionEndBytes);
    const batch = new CipherBatch(records.length);
    const payloads: Buffer[] = [];
    let atBytes = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const storedBytes = r.header.payloadSizeBytes + RECORD_TAG_BYTES;
      const fromBytes = r.payloadAtBytes - RECORD_HEADER_SIZE_BYTES;
      if (whole) atBytes = fromBytes - regionStartBytes;
      else this.nodeBuffer.copy(slab, atBytes, fromBytes, r.payloadAtBytes + storedBytes);
      batch.set(i, atBytes, storedBytes, r.header.lsn);
      payloads.push(slab.subarray(atBytes + RECORD_HEADER_SIZE_BYTES, atBytes + RECORD_HEADER_SIZE_BYTES + r.header.payloadSizeBytes));
      atBytes += RECORD_HEADER_SIZE_BYTES + storedBytes;
    }
    const path = this.file.path;
    const ready = cipher.openAsync(slab, batch.ranges, batch.nonces, records.length).then((verified) => {
      if (verified < records.length) throw new WalAuthError(path, records[verified]!.header.lsn);
    });
    return { payloads, ready };
  }

  /** The LSN the next record must carry; after the scan stops, one above the last valid record. */
  get nextLsn(): number {
    return this.expectedLsn;
  }

  /** File offset of the last valid record returned so far; 0 when there is none. */
  get lastRecordBytes(): number {
    return this.lastRecordOffsetBytes;
  }

  /** Where the scan stands now, for a later scan to resume from. */
  get position(): ScanPosition {
    return { offsetBytes: this.positionBytes, previousPendingIndex: this.previousPendingIndex };
  }

  /** File offset just past the last valid record returned so far. */
  get validEndBytes(): number {
    return this.positionBytes;
  }

  private logicalEndBytes(): number {
    return Math.min(this.bufferFileOffsetBytes + this.bufferLengthBytes, this.options.endBytes);
  }

  /** Moves the unread tail to the buffer start (keeping block alignment) and reads more. */
  private async refill(minBytes: number): Promise<boolean> {
    const block = this.file.alignmentBytes;
    const keepFromBytes = Math.floor(this.positionBytes / block) * block;
    const shiftBytes = keepFromBytes - this.bufferFileOffsetBytes;
    if (shiftBytes > 0) {
      this.buffer.bytes.copyWithin(0, shiftBytes, this.bufferLengthBytes);
      this.bufferLengthBytes -= shiftBytes;
      this.bufferFileOffsetBytes = keepFromBytes;
    }
    const neededBytes = this.positionBytes - keepFromBytes + minBytes;
    if (neededBytes > this.buffer.bytes.byteLength) this.grow(neededBytes);
    if (this.physicalEof) return false;
    const readAtBytes = this.bufferFileOffsetBytes + this.bufferLengthBytes;
    if (readAtBytes >= this.options.endBytes) return false;
    const roomBytes = this.buffer.bytes.byteLength - this.bufferLengthBytes;
    // Never past the end the scan may look at (rounded up to the block O_DIRECT needs): a
    // follower's round near the durable end reads a block or two, not a whole buffer.
    const toEndBytes = Math.ceil((this.options.endBytes - readAtBytes) / block) * block;
    const readBytes = Math.min(Math.floor(roomBytes / block) * block, toEndBytes);
    assert(readBytes > 0, 'scan buffer full although a record fits the limit');
    const gotBytes = await this.readInto(readAtBytes, readBytes);
    // The file holds at least `endBytes` (its size, or the durable end a reader was given): a
    // read that ends before it is an error, never the end of the records.
    const mustBytes = Math.min(readBytes, this.options.endBytes - readAtBytes);
    if (gotBytes < mustBytes) {
      throw new WalCorruptionError(
        this.file.path,
        readAtBytes + gotBytes,
        `reads end at offset ${readAtBytes + gotBytes}, before the ${this.options.endBytes} bytes the file holds`,
      );
    }
    this.bufferLengthBytes += gotBytes;
    if (gotBytes < readBytes) this.physicalEof = true;
    return gotBytes > 0;
  }

  /** Reads `readBytes` at `readAtBytes` into the buffer's free end, from the read ahead where there is one. */
  private async readInto(readAtBytes: number, readBytes: number): Promise<number> {
    if (this.options.readAhead !== true) return readFull(this.file, this.buffer, this.bufferLengthBytes, readBytes, readAtBytes);
    let gotBytes = 0;
    let eof = false;
    const ahead = this.ahead;
    if (ahead !== null) {
      this.ahead = null;
      const aheadBytes = await ahead.done;
      assert.equal(ahead.atBytes, readAtBytes, 'a scan reads on where its last read ended');
      gotBytes = Math.min(aheadBytes, readBytes);
      this.buffer.bytes.set(ahead.buffer.bytes.subarray(0, gotBytes), this.bufferLengthBytes);
      if (gotBytes < aheadBytes) {
        // The rest stays ahead (a block multiple: so are readBytes and a full read).
        ahead.buffer.bytes.copyWithin(0, gotBytes, aheadBytes);
        this.ahead = { atBytes: readAtBytes + gotBytes, buffer: ahead.buffer, done: Promise.resolve(aheadBytes - gotBytes), short: ahead.short };
      } else {
        this.spareAhead = ahead.buffer;
        eof = await ahead.short;
      }
    }
    if (gotBytes < readBytes && this.ahead === null && !eof) {
      const moreBytes = await readFull(this.file, this.buffer, this.bufferLengthBytes + gotBytes, readBytes - gotBytes, readAtBytes + gotBytes);
      eof = moreBytes < readBytes - gotBytes;
      gotBytes += moreBytes;
    }
    if (this.ahead === null && !eof) this.readAheadFrom(readAtBytes + gotBytes);
    return gotBytes;
  }

  private readAheadFrom(atBytes: number): void {
    const block = this.file.alignmentBytes;
    if (atBytes >= this.options.endBytes) return;
    const lengthBytes = Math.min(SCAN_CHUNK_BYTES, Math.ceil((this.options.endBytes - atBytes) / block) * block);
    const buffer =
      this.spareAhead !== null && this.spareAhead.bytes.byteLength >= lengthBytes ? this.spareAhead : this.io.allocAligned(SCAN_CHUNK_BYTES, block);
    this.spareAhead = null;
    const done = readFull(this.file, buffer, 0, lengthBytes, atBytes);
    // Awaited when needed (its error surfaces then); a scan that stops first never awaits it.
    done.catch(() => undefined);
    const short = done.then(
      (got) => got < lengthBytes,
      () => false,
    );
    this.ahead = { atBytes, buffer, done, short };
  }

  /** Grows the buffer for one large record; the size was checked against the payload limit first. */
  private grow(neededBytes: number): void {
    const block = this.file.alignmentBytes;
    const sizeBytes = Math.ceil((neededBytes + block) / block) * block;
    const bigger = this.io.allocAligned(sizeBytes, block);
    bigger.bytes.set(this.buffer.bytes.subarray(0, this.bufferLengthBytes));
    this.buffer = bigger;
    this.view = new DataView(bigger.arrayBuffer);
    this.nodeBuffer = Buffer.from(bigger.bytes.buffer, bigger.bytes.byteOffset, bigger.bytes.byteLength);
  }

  /**
   * Why `header` is not the record expected next, or null when it is: a plausible header with the
   * expected LSN whose pending index is at most one above the previous record's. The durable LSN
   * at submission (`lsn − pendingIndex − 1`) never falls from one record to the next, since
   * batches are submitted in LSN order and the durable LSN only grows: within a batch the index
   * steps by one, and a batch submitted behind others in flight may step less.
   */
  private headerProblem(header: RecordHeader, lsn: number, previousPendingIndex: number): string | null {
    const problem = checkRecordHeader(header, this.options.segmentId, this.options.payloadBytesLimit, this.cipher !== null);
    if (problem !== null) return problem;
    if (header.lsn !== lsn) return `LSN ${header.lsn} where ${lsn} was expected`;
    if (header.pendingIndex > previousPendingIndex + 1) return `pending index ${header.pendingIndex} after ${previousPendingIndex}`;
    return null;
  }

  private stopAt(offsetBytes: number, reason: string): ScannedRecord[] {
    this.stop = { kind: 'invalid', offsetBytes, reason };
    return [];
  }

  /**
   * The next run of valid records, in LSN order; an empty array once the scan has stopped
   * (`stop` then says why).
   */
  async next(): Promise<ScannedRecord[]> {
    if (this.stop !== null) return [];
    const o = this.options;
    for (;;) {
      const base = this.bufferFileOffsetBytes;
      const end = this.logicalEndBytes();
      let pos = this.positionBytes;
      let lsn = this.expectedLsn;
      let previousPendingIndex = this.previousPendingIndex;
      const block = this.file.alignmentBytes;
      const headers: RecordHeader[] = [];
      const offsets: number[] = [];
      const spans: Array<TransactionSpan | null> = [];
      let problem: string | null = null;
      // Bytes from the scan position that the next parse needs buffered; 0 until known.
      let wantBytes = 0;
      // The transaction whose records are being parsed, and the index of its transaction record.
      let open: TransactionSpan | null = null;
      let openIndex = 0;
      const lsnLimit = o.lsnLimit ?? Number.MAX_SAFE_INTEGER;
      if (lsn > lsnLimit) {
        this.stop = { kind: 'end', offsetBytes: pos };
        return [];
      }
      while (pos + RECORD_HEADER_SIZE_BYTES <= end && lsn <= lsnLimit) {
        let header = decodeRecordHeader(this.view, pos - base);
        problem = this.headerProblem(header, lsn, previousPendingIndex);
        if (problem !== null && pos % block !== 0) {
          // A batch submitted while another was in flight starts on the next block, after zeros.
          const nextBlockBytes = pos - (pos % block) + block;
          if (nextBlockBytes + RECORD_HEADER_SIZE_BYTES > end) {
            if (!this.physicalEof && end < o.endBytes && zerosIn(this.buffer.bytes, pos - base, end - base)) {
              wantBytes = nextBlockBytes + RECORD_HEADER_SIZE_BYTES - this.positionBytes;
              problem = null;
              break;
            }
          } else if (zerosIn(this.buffer.bytes, pos - base, nextBlockBytes - base)) {
            const after = decodeRecordHeader(this.view, nextBlockBytes - base);
            if (this.headerProblem(after, lsn, previousPendingIndex) === null) {
              header = after;
              problem = null;
              pos = nextBlockBytes;
            }
          }
        }
        if (problem !== null) break;
        const spanBytes = recordSpanBytes(header.payloadSizeBytes);
        if (pos + spanBytes > end) {
          wantBytes = pos + spanBytes - this.positionBytes;
          break;
        }
        let span: TransactionSpan | null = open;
        if (logicalRecordType(header.type) === RECORD_TYPE_TRANSACTION) {
          let count: number | null = null;
          if (open === null) {
            if (this.cipher === null) count = decodeTransactionStart(this.view, pos - base + RECORD_HEADER_SIZE_BYTES, header.payloadSizeBytes);
            else {
              const opened = this.openTransactionRecord(pos - base, header);
              if (opened === 'torn') {
                problem = `CRC mismatch in the record claiming LSN ${lsn}`;
                break;
              }
              count = opened;
            }
          }
          if (count === null) {
            problem =
              open === null
                ? `the transaction record at LSN ${lsn} announces no valid record count`
                : `a transaction record at LSN ${lsn} inside the transaction of LSNs ${open.firstLsn}..${open.lastLsn}`;
            break;
          }
          open = span = Object.freeze({ firstLsn: lsn + 1, lastLsn: lsn + count });
          openIndex = headers.length;
        }
        headers.push(header);
        offsets.push(pos);
        spans.push(span);
        pos += spanBytes;
        lsn += 1;
        previousPendingIndex = header.pendingIndex;
        if (open !== null && header.lsn === open.lastLsn) open = null;
        if (headers.length === this.crcs.length) {
          if (open === null) break;
          // A transaction is checked whole: its records may be more than one call checks.
          this.growChecks();
        }
      }
      if (wantBytes === 0) wantBytes = pos + RECORD_HEADER_SIZE_BYTES - this.positionBytes;
      if (open !== null) {
        // A transaction goes out whole or not at all: hold back what was parsed of it. What
        // precedes it goes now; the next call parses the transaction from its start.
        headers.length = openIndex;
        offsets.length = openIndex;
        spans.length = openIndex;
        if (openIndex === 0) {
          if (problem !== null) problem = `the transaction of LSNs ${open.firstLsn}..${open.lastLsn} is incomplete: ${problem}`;
          else if (lsn > lsnLimit) problem = `the transaction of LSNs ${open.firstLsn}..${open.lastLsn} runs past LSN ${lsnLimit}, the last to scan`;
          // Else the buffered bytes end inside it: read more, from its transaction record.
        }
      }
      if (headers.length > 0) return this.verify(headers, offsets, spans);
      if (problem !== null) return this.stopAt(this.positionBytes, problem);
      // Nothing complete is buffered: read more, or stop where the bytes run out.
      if (!(await this.refill(wantBytes))) {
        if (this.logicalEndBytes() <= this.positionBytes) {
          this.stop = { kind: 'end', offsetBytes: this.positionBytes };
          return [];
        }
        return this.stopAt(
          this.positionBytes,
          open === null
            ? 'record cut off by the end of the segment'
            : `the transaction of LSNs ${open.firstLsn}..${open.lastLsn} is cut off by the end of the segment`,
        );
      }
    }
  }

  /**
   * The record count of the encrypted transaction record at `atBytes` of the buffer (whole in
   * it), which the scan needs before the batch's CRCs are checked: its own CRC first ('torn' if
   * it fails: the same class as any torn record), then its tag, on a copy (the buffer keeps the
   * ciphertext the batch's CRC check reads). A tag that fails is WalAuthError.
   */
  private openTransactionRecord(atBytes: number, header: RecordHeader): number | null | 'torn' {
    if (!recordCrcMatches(this.io, this.buffer.bytes, atBytes, header, this.singleCheck)) return 'torn';
    const spanBytes = recordSpanBytes(header.payloadSizeBytes);
    const copy = this.buffer.bytes.slice(atBytes, atBytes + spanBytes);
    const single = this.singleBatch;
    const result = new Int32Array(1);
    single.set(0, 0, header.payloadSizeBytes, header.lsn);
    this.cipher!.open(copy, single.ranges, single.nonces, 1, result);
    if (result[0] !== 0) throw new WalAuthError(this.file.path, header.lsn);
    const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
    return decodeTransactionStart(view, RECORD_HEADER_SIZE_BYTES, header.payloadSizeBytes - RECORD_TAG_BYTES);
  }

  private readonly singleCheck = { ranges: new Uint32Array(2), out: new Uint32Array(1) };

  /** Room to check the CRCs of twice as many records in one call (a large transaction). */
  private growChecks(): void {
    const crcs = new Uint32Array(this.crcs.length * 2);
    this.crcs = crcs;
    this.ranges = new Uint32Array(crcs.length * 2);
  }

  /**
   * One CRC call for every parsed record; returns the prefix whose CRCs hold, without the
   * records of a transaction that holds a record whose CRC does not.
   */
  private verify(headers: RecordHeader[], offsets: number[], spans: Array<TransactionSpan | null>): ScannedRecord[] {
    const base = this.bufferFileOffsetBytes;
    const count = headers.length;
    for (let i = 0; i < count; i++) setRecordCrcRange(this.ranges, i, offsets[i]! - base, headers[i]!.payloadSizeBytes);
    this.io.crc32cRanges(this.buffer.bytes, this.ranges, count, this.crcs);
    let validCount = count;
    for (let i = 0; i < count; i++) {
      if (this.crcs[i] === headers[i]!.crc32c) continue;
      let reason = `CRC mismatch in the record claiming LSN ${headers[i]!.lsn}`;
      validCount = i;
      const span = spans[i]!;
      if (span !== null) {
        // Its transaction record and the records before this one go too.
        validCount = i - (headers[i]!.lsn - span.firstLsn + 1);
        reason += `, inside the transaction of LSNs ${span.firstLsn}..${span.lastLsn}`;
      }
      this.stop = { kind: 'invalid', offsetBytes: offsets[validCount]!, reason };
      break;
    }
    if (validCount > 0) {
      const last = headers[validCount - 1]!;
      this.positionBytes = offsets[validCount - 1]! + recordSpanBytes(last.payloadSizeBytes);
      this.lastRecordOffsetBytes = offsets[validCount - 1]!;
      this.expectedLsn = last.lsn + 1;
      this.previousPendingIndex = last.pendingIndex;
    }
    const out: ScannedRecord[] = [];
    const sealed = this.cipher !== null;
    for (let i = 0; i < validCount; i++) {
      const header = headers[i]!;
      if (sealed) {
        // What was appended: the type without the encryption bit, the payload without the tag.
        header.type = logicalRecordType(header.type);
        header.payloadSizeBytes -= RECORD_TAG_BYTES;
      }
      const offsetBytes = offsets[i]!;
      out.push({ header, offsetBytes, payloadAtBytes: offsetBytes - base + RECORD_HEADER_SIZE_BYTES, transaction: spans[i]!, sealed });
    }
    return out;
  }
}

/** Whether bytes [fromBytes, toBytes) of `bytes` are all zero. */
function zerosIn(bytes: Uint8Array, fromBytes: number, toBytes: number): boolean {
  for (let i = fromBytes; i < toBytes; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** The CRC of one record that sits whole in `bytes` at `offsetBytes`. */
export function recordCrcMatches(
  io: Io,
  bytes: Uint8Array,
  offsetBytes: number,
  header: RecordHeader,
  scratch: { ranges: Uint32Array; out: Uint32Array },
): boolean {
  setRecordCrcRange(scratch.ranges, 0, offsetBytes, header.payloadSizeBytes);
  io.crc32cRanges(bytes, scratch.ranges, 1, scratch.out);
  return scratch.out[0] === header.crc32c;
}
