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

export type CongestionControlName = 'cubic' | 'newreno';
/** tcp.ecn: RFC 3168 ECN negotiation (Linux net.ipv4.tcp_ecn 0 = off, 1 = on, 2 = accept). */
export type TcpEcnMode = 'off' | 'accept' | 'on';

export interface TcpConfig {
  /** Send MSS over IPv4 when the peer sends no MSS option (RFC 9293 3.7.1: 536). */
  defaultMssIpv4: number;
  /** Send MSS over IPv6 when the peer sends no MSS option (IPv6 minimum MTU 1280 - 60). */
  defaultMssIpv6: number;
  /** Smallest send MSS we accept from a peer, so tiny MSS cannot multiply per-byte costs (Linux tcp_min_snd_mss = 48). */
  minMss: number;
  /** Bytes the application may queue in a socket's send buffer before writes report backpressure. */
  sendBufferBytes: number;
  /** Initial receive buffer, which bounds the advertised window (Linux tcp_rmem[1] = 131072). */
  receiveBufferBytes: number;
  /** Receive buffer auto-tuning grows up to this, and the window scale is chosen for it (Linux tcp_rmem[2] = 6 MiB). */
  receiveBufferMaxBytes: number;
  /** Grow the receive buffer with the measured delivery rate (Linux tcp_moderate_rcvbuf = 1). */
  receiveBufferAutoTune: boolean;
  /** Out-of-order segments held for reassembly; bounds per-segment bookkeeping against 1-byte floods. */
  outOfOrderMaxSegments: number;
  /** Floor of the RTO's variance term, RTO >= SRTT + this (Linux TCP_RTO_MIN = 200 ms). */
  minRtoMs: number;
  /** Ceiling of the RTO including backoff (Linux TCP_RTO_MAX = 120 s; RFC 6298 2.5 needs >= 60 s). */
  maxRtoMs: number;
  /** RTO before any RTT sample (RFC 6298 2.1: 1 s). */
  initialRtoMs: number;
  /** Clock granularity G in the RTO formula (RFC 6298 2.3); our clock ticks in ms. */
  clockGranularityMs: number;
  /** Window of the min-RTT filter used by RACK and HyStart++ (Linux tcp_min_rtt_wlen = 300 s). */
  minRttWindowMs: number;
  /** Congestion control for new connections: CUBIC is Linux's default (RFC 9438); NewReno is RFC 5681/6582. */
  congestionControl: CongestionControlName;
  /** Initial congestion window in segments (RFC 6928: 10, as Linux). */
  initialCwndSegments: number;
  /** Use HyStart++ (RFC 9406) in the initial slow start, to leave it before the queue overflows. */
  hystart: boolean;
  /** Slow-start growth per ACK capped at this many MSS (RFC 3465 2.2 L = 2); 0: no cap, as Linux tcp_slow_start, so stretch ACKs (GRO, ackPerTurn) still double cwnd per round. */
  abcLimitSegments: number;
  /** Duplicate-ACK / SACKed-segment threshold for loss (RFC 5681 3.2, RFC 6675 2: 3). */
  dupThresh: number;
  /** RACK-TLP time-based loss detection and tail loss probes (RFC 8985; Linux default). */
  rackTlp: boolean;
  /** Worst-case delayed-ACK time the peer may use, added to a single-segment TLP timeout (RFC 8985 7.2: 200 ms). */
  maxAckDelayMs: number;
  /** SACKed ranges kept by the sender's scoreboard; a hostile receiver cannot make it grow beyond this. */
  sackMaxRanges: number;
  /** Shortest delayed-ACK timeout (Linux TCP_DELACK_MIN / TCP_ATO_MIN = 40 ms). */
  delayedAckMinMs: number;
  /** Longest delayed-ACK timeout (Linux TCP_DELACK_MAX = 200 ms; RFC 9293 3.8.6.3 requires < 500 ms). */
  delayedAckMaxMs: number;
  /** Segments ACKed immediately at connection start and after idle, so slow start is not slowed (Linux TCP_MAX_QUICKACKS = 16). */
  quickAckSegments: number;
  /** Past quick-ACK mode, in-order data gets one ACK per input turn (TUN read batch) instead of one per two segments: our GRO; each ACK write costs a syscall. */
  ackPerTurn: boolean;
  /** Nagle's algorithm (RFC 1122 4.2.3.4) unless the socket sets noDelay; Node's default. */
  nagle: boolean;
  /** Offer timestamps (RFC 7323): RTT measurement and PAWS. */
  timestamps: boolean;
  /** Offer SACK (RFC 2018). */
  sack: boolean;
  /** Offer window scaling (RFC 7323 2). */
  windowScaling: boolean;
  /** How long a SYN cookie stays valid (Linux: 2 counter periods of 64 s). */
  synCookieMaxAgeMs: number;
  /** Answer SYNs with SYN cookies when a listener's SYN queue is full (Linux tcp_syncookies = 1), so a flood cannot lock clients out. */
  synCookies: boolean;
  /**
   * ECN (RFC 3168): 'on' asks for it in our SYNs and accepts it, 'accept' only answers a peer
   * that asks, 'off' neither. Linux's default tcp_ecn = 2 is 'accept': asking is left to
   * whoever knows the path's middleboxes pass ECN-setup SYNs.
   */
  ecn: TcpEcnMode;
  /** Default listen backlog: SYN queue and accept queue bound (Node net.Server's default 511). */
  listenBacklog: number;
  /** TIME_WAIT lasts this long, 2 MSL (RFC 9293 3.4.2; Linux TCP_TIMEWAIT_LEN = 60 s). */
  timeWaitMs: number;
  /** SYN retransmissions before connect() fails with ETIMEDOUT (Linux tcp_syn_retries = 6, about 127 s). */
  synRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped (Linux tcp_synack_retries = 5). */
  synAckRetries: number;
  /** Retransmission timeouts (or unanswered zero-window probes) before ETIMEDOUT (Linux tcp_retries2 = 15; RFC 1122 4.2.3.5 R2 >= 100 s). */
  retries2: number;
  /** Idle time before the first keepalive probe (Linux tcp_keepalive_time = 2 h; RFC 1122 4.2.3.6 requires >= 2 h by default). */
  keepAliveIdleMs: number;
  /** Interval between unanswered keepalive probes (Linux tcp_keepalive_intvl = 75 s). */
  keepAliveIntervalMs: number;
  /** Unanswered keepalive probes before ETIMEDOUT (Linux tcp_keepalive_probes = 9). */
  keepAliveProbes: number;
  /** How long a close()d connection waits in FIN_WAIT_2 for the peer's FIN (Linux tcp_fin_timeout = 60 s). */
  finWait2TimeoutMs: number;
  /** Lowest ephemeral port for connect() (Linux ip_local_port_range = 32768 60999). */
  ephemeralPortMin: number;
  /** Highest ephemeral port. */
  ephemeralPortMax: number;
  /** Challenge ACKs (RFC 5961 7) per second for the whole host (Linux tcp_challenge_ack_limit = 1000). */
  challengeAckPerSecond: number;
  /** Least time between duplicate ACKs answering out-of-window segments on one connection (Linux tcp_invalid_ratelimit = 500 ms): no ACK storms, no reflection. */
  outOfWindowAckIntervalMs: number;
  /** Build send segments of up to 64 KiB and let the device or the host cut them (GSO): per-packet work is paid once per 64 KiB. */
  gso: boolean;
}

export type MptcpSchedulerName = 'default' | 'lowest-rtt' | 'round-robin' | 'redundant' | 'backup';

/** 'uncoupled' runs tcp.congestionControl on every subflow, as Linux does. */
export type MptcpCongestionControl = 'lia' | 'olia' | 'uncoupled';

export interface MptcpConfig {
  /** Offer MPTCP (MP_CAPABLE) on stream sockets; peers without it fall back to plain TCP unchanged (RFC 8684 3.1). */
  enabled: boolean;
  /** Require DSS checksums (RFC 8684 3.3.1, A flag). Off like Linux (net.mptcp.checksum_enabled = 0): a pass over every byte, and payload-rewriting middleboxes are rare; a peer that asks still gets them. */
  checksum: boolean;
  /** Re-send a SYN without MP_CAPABLE after this many SYN retransmissions, in case a middlebox drops MPTCP SYNs (Linux net.mptcp.syn_retrans_before_tcp_fallback = 2). */
  synRetransmitsBeforeFallback: number;
  /** Subflows per connection, the initial one included. Linux allows 2 extra by default, too few for a full mesh of two uplinks x two families on each side; 8 is also Linux's ceiling (MPTCP_PM_ADDR_MAX). */
  maxSubflows: number;
  /** Peer ADD_ADDRs accepted per connection (Linux add_addr_accepted, default 0: a Linux client ignores announcements unless configured). */
  addAddrAccepted: number;
  /** Pair every local address with every peer address of the same family (Linux needs the per-endpoint fullmesh flag for this). */
  fullMesh: boolean;
  /**
   * Subflows of one address family per local interface at a time: the initial subflow's
   * family where it can, the other family's pairs standing by until no subflow of the first
   * is live on that interface (then they open at once). Two families on one access link share
   * its bottleneck, double the flows there and pay IPv6's 20 extra header bytes per packet
   * (1.4% of a 1500-byte link). Off: every same-family pair, as Linux with endpoints of both
   * families on an IPv6 socket.
   */
  oneFamilyPerInterface: boolean;
  /** Which side opens subflows: the client, as with Linux endpoints of type "subflow"; servers are usually the ones clients can reach, not the other way round (NAT). */
  createSubflows: 'client' | 'both' | 'none';
  /** Which side announces its addresses with ADD_ADDR (Linux "signal" endpoints, typically on servers). */
  announce: 'server' | 'both' | 'none';
  /** ADD_ADDR rides on a pure ACK: re-announce after this long without an echo. Linux waits net.mptcp.add_addr_timeout = 120 s, which costs a lost announcement two minutes of a path. */
  addAddrTimeoutMs: number;
  /** Re-announcements before giving up on an echo (Linux ADD_ADDR_RETRANS_MAX = 3). */
  addAddrMaxRetransmits: number;
  /** First delay before re-creating a failed subflow; doubled per consecutive failure. Linux never re-creates one (mptcp_net-next #440). */
  subflowRetryBaseMs: number;
  /** Ceiling of that delay: a path that comes back is found within a minute even without a link event. */
  subflowRetryMaxMs: number;
  /** Retransmission interval of the MP_JOIN third ACK until the peer's ACK shows the join is complete (RFC 8684 3.2; Linux uses TCP_RTO_MIN = 200 ms). */
  joinAckRetransmitMs: number;
  /** Packet scheduler: 'default' is Linux's (lowest linger time, 64 KiB bursts, backups only when nothing else works). */
  scheduler: MptcpSchedulerName;
  /** Coupled congestion control (RFC 6356 LIA; OLIA). RFC 8684 3.3.7 and RFC 6356 want coupling so a multipath flow takes no more than one TCP at a shared bottleneck; Linux runs uncoupled subflows. */
  congestionControl: MptcpCongestionControl;
  /** The connection's send buffer grows from tcp.sendBufferBytes up to this, to 2 * sum of path rates * the largest RTT (a hole on a slow path holds the DATA_ACK while the fast ones send; Linux: the sum of its subflows' sndbufs, tcp_wmem[2] = 4 MiB each). */
  sendBufferMaxBytes: number;
  /** Retransmission timeouts without progress before a subflow's data is reinjected elsewhere (Linux net.mptcp.stale_loss_cnt = 4). */
  staleLossCount: number;
  /** Connections (token table entries) per host; bounds memory under an MP_CAPABLE SYN flood (RFC 8684 2.2 tokens are host-unique). */
  maxConnections: number;
  /** DSS mappings a subflow keeps ahead of its data (each covers up to 64 KiB); a peer exceeding it is reset. */
  maxMappingsPerSubflow: number;
  /** Unmapped in-order subflow bytes tolerated before the subflow is reset (RFC 8684 3.3.1 allows "a receive window"). */
  unmappedDataLimit: number;
  /** Out-of-order pieces held at the data level across all subflows, at least; a larger receive buffer gets one per 512 bytes of it (mptcp/reassembly.ts), so a whole window fits. */
  dataOutOfOrderMaxSegments: number;
}

export interface NameConfig {
  /** Packets that carry the names before a side gives up waiting for the other's answer (thesis 2.4 "N"): 8 covers a SYN, Linux's 6 SYN retransmissions (tcp_syn_retries) and the first ACK. */
  exchangePackets: number;
  /** dgram sockets put the names on every datagram until the peer's names come back, without the N limit (thesis 2.4: UDP has no handshake to ride on). */
  dgramUntilAcknowledged: boolean;
}

export interface DnsConfig {
  /** Wait for the first answer to a query, ms; doubled every round over the server list. Lab and LAN servers answer in a few ms; glibc's 5 s is for slow paths. */
  timeoutMs: number;
  /** Ceiling of the doubled timeout, ms, so a late round does not wait forever. */
  maxTimeoutMs: number;
  /** Rounds over the server list before ETIMEOUT (like resolv.conf "attempts", c-ares "tries" = 3). */
  rounds: number;
  /** Queries in flight at once (each holds a UDP socket); more fail with ENOBUFS, so a flood of names cannot exhaust ports. */
  maxOutstanding: number;
  /** Answers kept in the cache (positive and negative); the least recently used goes first. */
  cacheEntries: number;
  /** Longest time an answer is cached, ms, whatever its TTL (RFC 2181 8 allows up to 2^31 - 1 s; a day bounds stale data). */
  maxTtlMs: number;
  /** Longest time a negative answer is cached, ms (RFC 2308 5: "one to three hours"). */
  negativeMaxTtlMs: number;
  /** Negative answers without an SOA (dnsmasq's for its local names) are cached this long, ms. RFC 2308 5 forbids it for caches that serve others (loops); a stub serving only its own host cannot loop. 0 = not cached. */
  negativeNoSoaTtlMs: number;
  /** CNAMEs followed for one name before EBADRESP (loops and absurd chains; RFC 1034 5.3.3 asks for a bound). */
  maxCnameChain: number;
  /** EDNS(0) UDP payload size we advertise (RFC 6891; 1232 per DNS flag day 2020, no fragmentation); 0 sends no OPT record. */
  ednsUdpSize: number;
  /** lookupBoth() asks one ANY query, as the thesis's daemon did (res_query T_ANY), instead of AAAA and A in parallel (RFC 8305 3); RFC 8482 servers may answer ANY minimally, then it falls back to the pair. */
  lookupWithAny: boolean;
}

export interface EyeballsConfig {
  /** Use the thesis's learned preference P (Table 2) for the family order and the delay before the other family; false = plain RFC 8305 (IPv6 first, attemptDelayMs). */
  usePreference: boolean;
  /** P for a destination never raced before. The thesis's module started at 0 (both families at once); positive prefers IPv6, negative IPv4. */
  initialPreference: number;
  /** Milliseconds per unit of |P| before the other family's first attempt (thesis 5.2.2: |P| x 10 ms). */
  preferenceUnitMs: number;
  /** Bound of |P|. The thesis has none; 25 keeps |P| x 10 ms within RFC 8305's 250 ms, so a learned preference never falls back slower than plain Happy Eyeballs. */
  maxPreference: number;
  /** Destinations whose P is remembered; the least recently raced is forgotten first. */
  preferenceCacheSize: number;
  /** RFC 8305 3 Resolution Delay: after an A answer, wait this long for the AAAA (for the preferred family's answer under P < 0). */
  resolutionDelayMs: number;
  /** RFC 8305 5 Connection Attempt Delay between attempts (250 ms recommended); clamped to [10, 2000] ms as RFC 8305 5 requires. */
  attemptDelayMs: number;
  /** RFC 8305 4 First Address Family Count: addresses of the first family tried before the other family's first. */
  firstAddressFamilyCount: number;
  /** When a race's transport is MPTCP, keep the other family's attempt running after the winner; once it connects it is reset and its path joined to the winner's connection (MP_JOIN), so a dual-stack peer that announces nothing still gets subflows on both families (docs/happy-eyeballs.md). */
  keepOtherFamilyForMptcp: boolean;
  /** How long a kept attempt may take to connect after the winner before it is reset: a family that slow or silent is not worth a subflow now (the path manager still joins addresses the peer announces). */
  keepOtherFamilyWaitMs: number;
}

export interface StackConfig {
  ip: IpConfig;
  udp: UdpConfig;
  tcp: TcpConfig;
  mptcp: MptcpConfig;
  name: NameConfig;
  dns: DnsConfig;
  eyeballs: EyeballsConfig;
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
  tcp: {
    defaultMssIpv4: 536,
    defaultMssIpv6: 1220,
    minMss: 48,
    sendBufferBytes: 1 << 20,
    receiveBufferBytes: 131_072,
    receiveBufferMaxBytes: 6 << 20,
    receiveBufferAutoTune: true,
    outOfOrderMaxSegments: 4096,
    minRtoMs: 200,
    maxRtoMs: 120_000,
    initialRtoMs: 1000,
    clockGranularityMs: 1,
    minRttWindowMs: 300_000,
    congestionControl: 'cubic',
    initialCwndSegments: 10,
    hystart: true,
    abcLimitSegments: 0,
    dupThresh: 3,
    rackTlp: true,
    maxAckDelayMs: 200,
    sackMaxRanges: 1024,
    delayedAckMinMs: 40,
    delayedAckMaxMs: 200,
    quickAckSegments: 16,
    ackPerTurn: true,
    nagle: true,
    timestamps: true,
    sack: true,
    windowScaling: true,
    synCookieMaxAgeMs: 128_000,
    synCookies: true,
    ecn: 'accept',
    listenBacklog: 511,
    timeWaitMs: 60_000,
    synRetries: 6,
    synAckRetries: 5,
    retries2: 15,
    keepAliveIdleMs: 7_200_000,
    keepAliveIntervalMs: 75_000,
    keepAliveProbes: 9,
    finWait2TimeoutMs: 60_000,
    ephemeralPortMin: 32768,
    ephemeralPortMax: 60999,
    challengeAckPerSecond: 1000,
    outOfWindowAckIntervalMs: 500,
    gso: true,
  },
  mptcp: {
    enabled: true,
    checksum: false,
    synRetransmitsBeforeFallback: 2,
    maxSubflows: 8,
    addAddrAccepted: 8,
    fullMesh: true,
    oneFamilyPerInterface: true,
    createSubflows: 'client',
    announce: 'server',
    addAddrTimeoutMs: 2000,
    addAddrMaxRetransmits: 3,
    subflowRetryBaseMs: 1000,
    subflowRetryMaxMs: 60_000,
    joinAckRetransmitMs: 200,
    scheduler: 'default',
    congestionControl: 'lia',
    staleLossCount: 4,
    sendBufferMaxBytes: 16 << 20,
    maxConnections: 65_536,
    maxMappingsPerSubflow: 1024,
    unmappedDataLimit: 262_144,
    dataOutOfOrderMaxSegments: 4096,
  },
  name: {
    exchangePackets: 8,
    dgramUntilAcknowledged: true,
  },
  dns: {
    timeoutMs: 1000,
    maxTimeoutMs: 8000,
    rounds: 3,
    maxOutstanding: 64,
    cacheEntries: 1024,
    maxTtlMs: 86_400_000,
    negativeMaxTtlMs: 10_800_000,
    negativeNoSoaTtlMs: 5000,
    maxCnameChain: 8,
    ednsUdpSize: 1232,
    lookupWithAny: false,
  },
  eyeballs: {
    usePreference: true,
    initialPreference: 0,
    preferenceUnitMs: 10,
    maxPreference: 25,
    preferenceCacheSize: 1024,
    resolutionDelayMs: 50,
    attemptDelayMs: 250,
    firstAddressFamilyCount: 1,
    keepOtherFamilyForMptcp: true,
    keepOtherFamilyWaitMs: 2000,
  },
};

export type PartialConfig = { [K in keyof StackConfig]?: Partial<StackConfig[K]> };

/** Defaults overlaid with the caller's choices, section by section. */
export function resolveConfig(partial: PartialConfig = {}): StackConfig {
  return {
    ip: { ...DEFAULT_CONFIG.ip, ...partial.ip },
    udp: { ...DEFAULT_CONFIG.udp, ...partial.udp },
    tcp: { ...DEFAULT_CONFIG.tcp, ...partial.tcp },
    mptcp: { ...DEFAULT_CONFIG.mptcp, ...partial.mptcp },
    name: { ...DEFAULT_CONFIG.name, ...partial.name },
    dns: { ...DEFAULT_CONFIG.dns, ...partial.dns },
    eyeballs: { ...DEFAULT_CONFIG.eyeballs, ...partial.eyeballs },
  };
}
