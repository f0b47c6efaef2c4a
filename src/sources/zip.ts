/**
 * Read-only access to the parts of an .xlsx (a zip archive), on yauzl: the central directory is
 * read once into a name -> entry map, then any entry can be streamed (inflated) in the order we
 * need it (workbook, styles, strings, then the sheet), one chunk at a time.
 *
 * exceljs's streaming WorkbookReader reads the zip front to back with unzipper and loses entries
 * at random on Node 18+ (exceljs#1558, #3064): styles.xml went missing in 5 of 6 reads of one test
 * workbook, turning its dates into plain numbers. Random access through the directory avoids that.
 */
import type { Readable } from 'node:stream';
import { openPromise, type Entry, type ZipFile as YauzlZipFile } from 'yauzl';

export class ZipFormatError extends Error {
  override name = 'ZipFormatError';
}

export class ZipFile {
  private constructor(
    private readonly zip: YauzlZipFile,
    private readonly entries: Map<string, Entry>,
  ) {}

  /** Opens `file` and reads its directory. The file stays open until close(). */
  static async open(file: string): Promise<ZipFile> {
    const zip = await openPromise(file, { lazyEntries: true, autoClose: false });
    // yauzl reports a failure to close the file as an 'error' event; it must not crash the process.
    zip.on('error', () => undefined);
    const entries = new Map<string, Entry>();
    try {
      for await (const entry of zip.eachEntry()) entries.set(entry.fileName, entry);
    } catch (e) {
      zip.close();
      throw e;
    }
    return new ZipFile(zip, entries);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The uncompressed bytes of an entry, streamed. */
  async stream(name: string): Promise<Readable> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new ZipFormatError(`${name} is missing from the archive`);
    if (entry.isEncrypted()) throw new ZipFormatError(`${name} is encrypted`);
    return this.zip.openReadStreamPromise(entry);
  }

  /** Releases the file; it is closed once the streams still open are done or destroyed. */
  close(): void {
    this.zip.close();
  }
}
