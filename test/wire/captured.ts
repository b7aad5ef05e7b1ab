// Packets captured from the Linux 6.18 kernel for the codec tests, as raw IP (the
// Ethernet header stripped). How they were made: three network namespaces h1 - r - h2
// joined by veth pairs (tx checksum offload off, so checksums are final), h1 10.0.0.1 and
// fd00:1::1, h2 10.0.1.2 and fd00:2::2, the r-h2 link at MTU 1280, r forwarding; tcpdump
// on h1's interface while h1 ran the commands noted on each vector. Long runs of one byte
// and ping's counting payload are written as repeat()/ramp() to keep this file readable.

/** Concatenates hex strings and byte arrays. */
function bytes(...parts: (string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) => (typeof p === 'string' ? Uint8Array.from(Buffer.from(p, 'hex')) : p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function repeat(value: number, count: number): Uint8Array {
  return new Uint8Array(count).fill(value);
}

/** ping's payload pattern: bytes counting up from `first`, wrapping at 256. */
function ramp(first: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (first + i) & 0xff;
  return out;
}

export const captured = {
  /** ping -c1 -s 16 10.0.1.2 (44 bytes). */
  ipv4EchoRequest: bytes(
    '4500002cd8ff400040014ccf0a0000010a0001020800d45a25de00014964066b00000000abf6020000000000',
  ),
  /** its reply (44 bytes). */
  ipv4EchoReply: bytes(
    '4500002c92b500003f01d4190a0001020a0000010000dc5a25de00014964066b00000000abf6020000000000',
  ),
  /** ping -c1 -R -s 8 10.0.1.2: IPv4 options NOP + Record Route (76 bytes). */
  ipv4RecordRouteRequest: bytes(
    '4f00004cd91f40004001107f0a0000010a000102010727080a000001',
    repeat(0x00, 32),
    '0800c5b8263600010001020304050607',
  ),
  /** its reply: Record Route filled in, then EOL (76 bytes). */
  ipv4RecordRouteReply: bytes(
    '4f00004c92de00003f01a9720a0001020a0000010727180a0000010a0001fe0a0001020a0001020a0000fe',
    repeat(0x00, 19),
    'cdb8263600010001020304050607',
  ),
  /** ping -c1 -M do -s 1400 10.0.1.2 (DF, too big for the 1280-byte hop) (1428 bytes). */
  ipv4EchoRequestDf1408: bytes(
    '4500059400004000400120670a0000010a0001020800562425e000014964066b00000000be0e030000000000',
    ramp(0x10, 1384),
  ),
  /** the router's ICMP destination unreachable, code 4, next-hop MTU 1280 (RFC 1191) (576 bytes). */
  ipv4FragNeeded: bytes(
    '45c002404a170000400118e80a0000fe0a00000103040ec9000005004500059400004000400120670a0000010a000102',
    '0800562425e000014964066b00000000be0e030000000000',
    ramp(0x10, 504),
  ),
  /** ping -c1 -t 1 10.0.1.2 (84 bytes). */
  ipv4EchoTtl1: bytes(
    '45000054d902400001018ba40a0000010a0001020800925825e200014964066b000000002e22030000000000',
    ramp(0x10, 40),
  ),
  /** the router's ICMP time exceeded (112 bytes). */
  ipv4TimeExceeded: bytes(
    '45c000704a18000040011ab70a0000fe0a0000010b00f4ff0000000045000054d902400001018ba40a0000010a000102',
    '0800925825e200014964066b000000002e22030000000000',
    ramp(0x10, 40),
  ),
  /** python3 sendto(b"hello namestack", ("10.0.1.2", 5353)) (43 bytes). */
  ipv4Udp: bytes('4500002b905b4000401195640a0000010a0001029bc414e90017da7e68656c6c6f206e616d65737461636b'),
  /** h2's ICMP port unreachable for it (71 bytes). */
  ipv4PortUnreachable: bytes(
    '45c0004792c300003f01d3300a0001020a00000103031228000000004500002b905b40003f1196640a0000010a000102',
    '9bc414e90017da7e68656c6c6f206e616d65737461636b',
  ),
  /** 2000-byte UDP datagram with IP_PMTUDISC_DONT: first fragment (MF) (1276 bytes). */
  ipv4UdpFragment0: bytes('450004fc905c20004011b0920a0000010a000102a2ea14e907d8b4f9', repeat(0x47, 1248)),
  /** its second fragment (offset 1256) (772 bytes). */
  ipv4UdpFragment1: bytes('45000304905c009d4011d1ed0a0000010a000102', repeat(0x47, 752)),
  /** ping -6 -c1 -s 16 fd00:2::2 (64 bytes). */
  ipv6EchoRequest: bytes(
    '600402cd00183a40fd000001000000000000000000000001fd0000020000000000000000000000028000faf125df0001',
    '4964066b000000001204030000000000',
  ),
  /** its reply (64 bytes). */
  ipv6EchoReply: bytes(
    '6004d25d00183a3ffd000002000000000000000000000002fd0000010000000000000000000000018100f9f125df0001',
    '4964066b000000001204030000000000',
  ),
  /** ping -6 -c1 -M do -s 1400 fd00:2::2 (1448 bytes). */
  ipv6EchoRequest1408: bytes(
    '600402cd05803a40fd000001000000000000000000000001fd0000020000000000000000000000028000de5625e10001',
    '4964066b00000000be18030000000000',
    ramp(0x10, 1384),
  ),
  /** the router's ICMPv6 packet too big, MTU 1280 (1280 bytes). */
  ipv6PacketTooBig: bytes(
    '60050b9404d83a40fd0000010000000000000000000000fefd0000010000000000000000000000010200355800000500',
    '600402cd05803a40fd000001000000000000000000000001fd0000020000000000000000000000028000de5625e10001',
    '4964066b00000000be18030000000000',
    ramp(0x10, 1168),
  ),
  /** ping -6 -c1 -t 1 fd00:2::2 (104 bytes). */
  ipv6EchoHopLimit1: bytes(
    '600402cd00403a01fd000001000000000000000000000001fd000002000000000000000000000002800021cb25e30001',
    '4964066b000000002c2c030000000000',
    ramp(0x10, 40),
  ),
  /** the router's ICMPv6 time exceeded (152 bytes). */
  ipv6TimeExceeded: bytes(
    '6008b1a300703a40fd0000010000000000000000000000fefd000001000000000000000000000001030064ba00000000',
    '600402cd00403a01fd000001000000000000000000000001fd000002000000000000000000000002800021cb25e30001',
    '4964066b000000002c2c030000000000',
    ramp(0x10, 40),
  ),
  /** python3 sendto(b"hello v6", ("fd00:2::2", 5353)) (56 bytes). */
  ipv6Udp: bytes(
    '60011be600101140fd000001000000000000000000000001fd000002000000000000000000000002e9ef14e900104cc5',
    '68656c6c6f207636',
  ),
  /** h2's ICMPv6 port unreachable for it (104 bytes). */
  ipv6PortUnreachable: bytes(
    '6003cde500403a3ffd000002000000000000000000000002fd0000010000000000000000000000010104776400000000',
    '60011be60010113ffd000001000000000000000000000001fd000002000000000000000000000002e9ef14e900104cc5',
    '68656c6c6f207636',
  ),
  /** IPV6_DSTOPTS sockopt: option 0x11 (5 bytes "abcde") + PadN (68 bytes). */
  ipv6DestOptsUdp: bytes(
    '60005c73001c3c40fd000001000000000000000000000001fd0000020000000000000000000000021101110561626364',
    '6501050000000000db4a14e9000c31b76f707473',
  ),
  /** IPV6_HOPOPTS sockopt: router alert + PadN (59 bytes). */
  ipv6HopByHopUdp: bytes(
    '6007cfda00130040fd000001000000000000000000000001fd0000020000000000000000000000021100050200000100',
    'dea114e9000b41e3686268',
  ),
  /** IPV6_RTHDR sockopt: segment routing header (type 4), two segments (90 bytes). */
  ipv6RoutingUdp: bytes(
    '60092fa800322b40fd000001000000000000000000000001fd0000020000000000000000000000021104040101000000',
    'fd000002000000000000000000000002fd000002000000000000000000000002b74314e9000ac7317274',
  ),
  /** 2000-byte UDP datagram over a 1280-byte path MTU: first fragment (1280 bytes). */
  ipv6UdpFragment0: bytes(
    '600688fe04d82c40fd000001000000000000000000000001fd0000020000000000000000000000021100000123c19c88',
    'b3a314e907d8ab27',
    repeat(0x46, 1224),
  ),
  /** its second fragment (824 bytes). */
  ipv6UdpFragment1: bytes(
    '600688fe03102c40fd000001000000000000000000000001fd000002000000000000000000000002110004d023c19c88',
    repeat(0x46, 776),
  ),
  /** IPV6_DSTOPTS with option 0x91 (action 10: discard and send parameter problem) (58 bytes). */
  ipv6DestOptsDiscard: bytes(
    '600e1c8a00123c40fd000001000000000000000000000001fd0000020000000000000000000000021100910278790100',
    'ad3814e9000ad3407070',
  ),
  /** h2's ICMPv6 parameter problem, code 2, pointer 42 (106 bytes). */
  ipv6ParameterProblem: bytes(
    '600d793400423a3ffd000002000000000000000000000002fd00000100000000000000000000000104022d050000002a',
    '600e1c8a00123c3ffd000001000000000000000000000001fd0000020000000000000000000000021100910278790100',
    'ad3814e9000ad3407070',
  ),
  /** kernel NDP neighbor solicitation (72 bytes). */
  ipv6NeighborSolicitation: bytes(
    '6000000000203afffd000001000000000000000000000001ff0200000000000000000001ff0000fe87008f6e00000000',
    'fd0000010000000000000000000000fe010192d4f6dc647e',
  ),
  /** kernel NDP neighbor advertisement (72 bytes). */
  ipv6NeighborAdvertisement: bytes(
    '6000000000203afffd0000010000000000000000000000fefd0000010000000000000000000000018800f3c0e0000000',
    'fd0000010000000000000000000000fe02015ab8ae9c9f8a',
  ),
  /** kernel MLDv2 report (hop-by-hop router alert + PadN, unspecified source) (156 bytes). */
  ipv6MldReport: bytes(
    '6000000000740001',
    repeat(0x00, 16),
    'ff0200000000000000000000000000163a000502000001008f00c3fa0000000504000000ff0200000000000000000001',
    'ff9c9f8a04000000ff0200000000000000000001ff00000004000000ff05000000000000000000000000000204000000',
    'ff02000000000000000000000000000204000000ff0200000000000000000001ff0000fe',
  ),
};
