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
}

export interface TcpConfig {
  /** Filled in by stack/tcp. */
  [key: string]: unknown;
}

export interface StackConfig {
  ip: IpConfig;
  tcp: TcpConfig;
}

export const DEFAULT_CONFIG: StackConfig = {
  ip: {
    defaultTtl: 64,
    answerEcho: true,
    outputQueueLimit: 4096,
  },
  tcp: {},
};

export type PartialConfig = { [K in keyof StackConfig]?: Partial<StackConfig[K]> };

/** Defaults overlaid with the caller's choices, section by section. */
export function resolveConfig(partial: PartialConfig = {}): StackConfig {
  return {
    ip: { ...DEFAULT_CONFIG.ip, ...partial.ip },
    tcp: { ...DEFAULT_CONFIG.tcp, ...partial.tcp },
  };
}
