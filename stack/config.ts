// Every tunable of the stack lives here, with its default and the reason for it
// (STYLE.md: lwIP's opt.h). Sections are filled in by the layers that own them.
// Times are milliseconds; sizes are bytes.

export interface IpConfig {
  /** Hop limit / TTL of packets we originate. 64 like Linux (net.ipv4.ip_default_ttl). */
  defaultTtl: number;
  /** Answer ICMP/ICMPv6 echo requests addressed to us (RFC 1122 3.2.2.6 says MUST). */
  answerEcho: boolean;
  /** Upper bound of packets waiting in the output queue before new ones are dropped and counted. */
  outputQueueLimit: number;
  /** Per-destination ICMP error token interval, ms: one error per interval after the burst (Linux net.ipv4.icmp_ratelimit = 1000). */
  icmpErrorIntervalMs: number;
  /** Per-destination burst of ICMP errors before the interval applies (Linux XRLIM_BURST_FACTOR = 6). */
  icmpErrorBurst: number;
  /** Host-wide ICMP errors per second, so a scan of many sources cannot make us a reflector (Linux icmp_msgs_per_sec = 1000). */
  icmpGlobalPerSecond: number;
  /** Host-wide ICMP error burst (Linux icmp_msgs_burst = 50). */
  icmpGlobalBurst: number;
  /** Destinations remembered by the per-destination ICMP limiter; the oldest is forgotten beyond this (bounded memory under a scan). */
  icmpRateLimitPeers: number;
  /** How long a learned path MTU is kept before trying the interface MTU again, ms (RFC 1191 6.3 / RFC 8201 5.3 suggest 10 minutes). */
  pmtuExpiryMs: number;
  /** Smallest IPv4 path MTU accepted from a Fragmentation Needed message (Linux min_pmtu = 552), against forged tiny MTUs. */
  pmtuMinIpv4: number;
  /** Destinations in the path MTU cache; the oldest is forgotten beyond this. */
  pmtuCacheLimit: number;
}

export interface UdpConfig {
  /** Lowest ephemeral port (Linux net.ipv4.ip_local_port_range = 32768 60999). */
  ephemeralPortMin: number;
  /** Highest ephemeral port. */
  ephemeralPortMax: number;
  /** Payload bytes a socket may hold unread before new datagrams are dropped (Linux rmem_default = 212992). */
  receiveQueueBytes: number;
  /** Datagrams a socket may hold unread, so empty datagrams cannot grow the queue without bound. */
  receiveQueueDatagrams: number;
}

export interface TcpConfig {
  /** Filled in by stack/tcp. */
  [key: string]: unknown;
}

export interface StackConfig {
  ip: IpConfig;
  udp: UdpConfig;
  tcp: TcpConfig;
}

export const DEFAULT_CONFIG: StackConfig = {
  ip: {
    defaultTtl: 64,
    answerEcho: true,
    outputQueueLimit: 4096,
    icmpErrorIntervalMs: 1000,
    icmpErrorBurst: 6,
    icmpGlobalPerSecond: 1000,
    icmpGlobalBurst: 50,
    icmpRateLimitPeers: 4096,
    pmtuExpiryMs: 600_000,
    pmtuMinIpv4: 552,
    pmtuCacheLimit: 4096,
  },
  udp: {
    ephemeralPortMin: 32768,
    ephemeralPortMax: 60999,
    receiveQueueBytes: 212_992,
    receiveQueueDatagrams: 1024,
  },
  tcp: {},
};

export type PartialConfig = { [K in keyof StackConfig]?: Partial<StackConfig[K]> };

/** Defaults overlaid with the caller's choices, section by section. */
export function resolveConfig(partial: PartialConfig = {}): StackConfig {
  return {
    ip: { ...DEFAULT_CONFIG.ip, ...partial.ip },
    udp: { ...DEFAULT_CONFIG.udp, ...partial.udp },
    tcp: { ...DEFAULT_CONFIG.tcp, ...partial.tcp },
  };
}
