// Packets (and received payload copies) are carved from shared slabs instead of one
// ArrayBuffer each: allocating an ArrayBuffer costs more than filling 1500 bytes. A packet is
// a subarray of a slab (mind byteOffset when handing `.buffer` to anything); a slab is never
// reused, only collected when its last packet is garbage, so packets stay independent and
// zeroed. The price: one packet kept alive keeps its whole slab alive.

/** Slab size: 128 KiB holds ~85 full-size packets; a super-packet larger than a quarter gets its own buffer. */
const SLAB_BYTES = 128 * 1024;
const OWN_BUFFER_ABOVE = SLAB_BYTES / 4;

export class PacketAllocator {
  private slab = new Uint8Array(0);
  private used = 0;

  /** `length` zeroed bytes, valid until the caller drops them. */
  alloc(length: number): Uint8Array {
    if (length > OWN_BUFFER_ABOVE) return new Uint8Array(length);
    // Keep packets 8-byte aligned so the checksum's word loop starts aligned.
    const size = (length + 7) & ~7;
    if (this.used + size > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + length);
    this.used += size;
    return out;
  }
}
