// Splits a byte stream into newline-terminated lines with a size limit, and hands back the
// bytes after them untouched: the control protocol switches from JSON lines to a raw byte
// stream on the same connection, so nothing read past the reply may be lost or decoded.
//
// Chunks are kept as received and each byte is scanned once, so a client trickling a long
// line one byte at a time costs linear work, not quadratic.

export const TOO_BIG = Symbol('line too big');

export class LineReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Chunks at the front already scanned and known to hold no newline. */
  private scanned = 0;

  constructor(
    /** Longest line accepted, newline included. */
    readonly limit: number,
  ) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Bytes held (lines not taken yet and anything after them). */
  get buffered(): number {
    return this.size;
  }

  /**
   * The next complete line without its newline (and a trailing CR, so `nc -C` works), TOO_BIG
   * when the line exceeds the limit (complete or not), or undefined when more bytes are needed.
   */
  next(): string | typeof TOO_BIG | undefined {
    let before = 0;
    for (let i = 0; i < this.scanned; i++) before += this.chunks[i]!.length;
    for (let i = this.scanned; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      const at = chunk.indexOf(0x0a);
      if (at < 0) {
        before += chunk.length;
        this.scanned = i + 1;
        continue;
      }
      const lineLength = before + at;
      if (lineLength + 1 > this.limit) return TOO_BIG;
      const all = Buffer.concat(this.chunks.slice(0, i + 1), before + chunk.length);
      const end = lineLength > 0 && all[lineLength - 1] === 0x0d ? lineLength - 1 : lineLength;
      const line = all.toString('utf8', 0, end);
      const tail = chunk.subarray(at + 1);
      this.chunks = tail.length > 0 ? [tail, ...this.chunks.slice(i + 1)] : this.chunks.slice(i + 1);
      this.size -= lineLength + 1;
      this.scanned = 0;
      return line;
    }
    return this.size >= this.limit ? TOO_BIG : undefined;
  }

  /** Takes every byte not returned as a line yet. */
  rest(): Buffer {
    const out = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    this.scanned = 0;
    return out;
  }
}
