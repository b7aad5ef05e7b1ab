// Writes a buffer into a stack connection as fast as its send window takes it, then ends it
// once: the shared half of the kernel lab tests' exchange() helpers.

/**
 * Returns the pump to call at start and on every connect/writable event: it writes what the
 * connection takes (256 KiB at a time), calls `end` once everything is in, and kicks the runtime.
 */
export function writePump(conn: { write(data: Uint8Array): number }, data: Uint8Array, kick: () => void, end: () => void): () => void {
  let offset = 0;
  let ended = false;
  return () => {
    while (offset < data.length) {
      const n = conn.write(data.subarray(offset, Math.min(offset + (256 << 10), data.length)));
      if (n === 0) return;
      offset += n;
    }
    if (!ended) {
      ended = true;
      end();
    }
    kick();
  };
}
