// IPv6 flow labels (RFC 6437): the source labels each flow so that routers can keep its
// packets on one path (ECMP, link aggregation) without looking past the IPv6 header. Like
// Linux's auto_flowlabels default (ip6_make_flowlabel), the label is a keyed hash of the
// flow's 5-tuple: stateless, the same for every packet of a TCP connection or a UDP
// socket's exchange with one peer, different across flows, and not predictable from
// outside (RFC 6437 3, RFC 7098) since the key is drawn per host.

import type { RandomSource } from '../random.js';
import { readU32 } from '../wire/bytes.js';

const MASK = 0xfffff;

/** murmur3's 32-bit mixing of one word into the running hash. */
function mix(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export class FlowLabeler {
  private readonly key: number;

  constructor(random: RandomSource) {
    this.key = random.uint32();
  }

  /**
   * The 20-bit label, never 0 (0 means "unlabeled"), of the flow src -> dst (16-byte
   * addresses) over `protocol`; `ports` is the transport's source and destination port as one
   * 32-bit word.
   */
  label(src: Uint8Array, dst: Uint8Array, protocol: number, ports: number): number {
    let h = this.key;
    for (let i = 0; i < 16; i += 4) h = mix(h, readU32(src, i));
    for (let i = 0; i < 16; i += 4) h = mix(h, readU32(dst, i));
    h = mix(h, ports);
    h = mix(h, protocol);
    // murmur3's finalizer, then Linux's fold of the high bits into the 20 kept.
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return ((h ^ (h >>> 12)) & MASK) || 1;
  }
}
