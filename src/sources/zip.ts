/**
 * A small read-only ZIP reader for .xlsx files: reads the central directory, then streams one
 * entry at a time (stored or deflated) with node:zlib. Random access through the directory means
 * every part can be read in the order we need (workbook, styles, strings, then the sheet), and an
 * entry is read only when asked for, one chunk at a time.
 *
 * exceljs's streaming WorkbookReader reads the zip front to back with unzipper and loses entries
 * at random on Node 18+ (exceljs#1558, #3064): styles.xml went missing in 5 of 6 reads of one test
 * workbook, turning its dates into plain numbers. Hence this reader.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createInflateRaw } from 'node:zlib';

export class ZipFormatError extends Error {
  override name = 'ZipFormatError';
}

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  if (got < length) throw new ZipFormatError('the file is truncated');
  return buf;
}

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError('zip offsets beyond 2^53');
  return Number(v);
}

export class ZipFile {
  private constructor(
    private readonly file: string,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static async open(file: string): Promise<ZipFile> {
    const fh = await open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const tailLen = Math.min(size, 22 + 0xffff);
      if (tailLen < 22) throw new ZipFormatError('the file is too short to be a zip archive');
      const tail = await readAt(fh, size - tailLen, tailLen);
      let eocd = -1;
      for (let i = tailLen - 22; i >= 0; i--) {
        if (tail.readUInt32LE(i) === EOCD) {
          eocd = i;
          break;
        }
      }
      if (eocd === -1) throw new ZipFormatError('no zip directory found (the file is truncated or not a zip archive)');
      let count = tail.readUInt16LE(eocd + 10);
      let cdSize = tail.readUInt32LE(eocd + 12);
      let cdOffset = tail.readUInt32LE(eocd + 16);
      if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
        const locAt = size - tailLen + eocd - 20;
        if (locAt < 0) throw new ZipFormatError('zip64 locator missing');
        const loc = await readAt(fh, locAt, 20);
        if (loc.readUInt32LE(0) !== EOCD64_LOCATOR) throw new ZipFormatError('zip64 locator missing');
        const rec = await readAt(fh, u64(loc, 8), 56);
        if (rec.readUInt32LE(0) !== EOCD64) throw new ZipFormatError('zip64 directory record missing');
        count = u64(rec, 32);
        cdSize = u64(rec, 40);
        cdOffset = u64(rec, 48);
      }
      if (cdOffset + cdSize > size) throw new ZipFormatError('the zip directory lies beyond the end of the file (truncated?)');
      const cd = await readAt(fh, cdOffset, cdSize);
      const entries = new Map<string, ZipEntry>();
      let p = 0;
      for (let n = 0; n < count; n++) {
        if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw new ZipFormatError('damaged zip directory');
        const flags = cd.readUInt16LE(p + 8);
        const method = cd.readUInt16LE(p + 10);
        let compressedSize = cd.readUInt32LE(p + 20);
        let uncompressed = cd.readUInt32LE(p + 24);
        const nameLen = cd.readUInt16LE(p + 28);
        const extraLen = cd.readUInt16LE(p + 30);
        const commentLen = cd.readUInt16LE(p + 32);
        let localHeaderOffset = cd.readUInt32LE(p + 42);
        const name = cd.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
        // zip64 extended information: the 64-bit values of the fields that hold 0xFFFFFFFF.
        let e = p + 46 + nameLen;
        const extraEnd = e + extraLen;
        while (e + 4 <= extraEnd) {
          const id = cd.readUInt16LE(e);
          const len = cd.readUInt16LE(e + 2);
          if (id === 0x0001) {
            let q = e + 4;
            if (uncompressed === 0xffffffff) {
              uncompressed = u64(cd, q);
              q += 8;
            }
            if (compressedSize === 0xffffffff) {
              compressedSize = u64(cd, q);
              q += 8;
            }
            if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, q);
          }
          e += 4 + len;
        }
        entries.set(name, { name, method, flags, compressedSize, size: uncompressed, localHeaderOffset });
        p = extraEnd + commentLen;
      }
      return new ZipFile(file, entries);
    } finally {
      await fh.close();
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The uncompressed bytes of an entry, streamed. */
  async stream(name: string): Promise<Readable> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new ZipFormatError(`${name} is missing from the archive`);
    if (entry.flags & 0x1) throw new ZipFormatError(`${name} is encrypted`);
    const fh = await open(this.file, 'r');
    let header: Buffer;
    try {
      header = await readAt(fh, entry.localHeaderOffset, 30);
    } finally {
      await fh.close();
    }
    if (header.readUInt32LE(0) !== LOCAL) throw new ZipFormatError(`damaged zip entry ${name}`);
    const start = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    if (entry.compressedSize === 0) return Readable.from([]);
    const raw = createReadStream(this.file, { start, end: start + entry.compressedSize - 1, highWaterMark: 64 * 1024 });
    if (entry.method === 0) return raw;
    if (entry.method !== 8) {
      raw.destroy();
      throw new ZipFormatError(`${name} uses zip compression method ${entry.method}, which is not supported`);
    }
    const inflate = createInflateRaw();
    // Errors of either stream reach the reader of `inflate`; the callback only keeps them handled.
    pipeline(raw, inflate, () => undefined);
    return inflate;
  }
}
