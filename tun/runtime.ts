// Drives a sans-I/O Host in real time (DESIGN.md "Core rule"): packets from the links go to
// host.input(), packets from host.pollTransmit() go to the links, and one timer is kept armed
// for host.nextTimeout(). The simulated network (test/sim) drives the same Host with a
// virtual clock instead.

import { performance } from 'node:perf_hooks';
import type { Host, RxMeta } from '../stack/ip/host.js';
import type { Link, LinkPacket } from './link.js';
import { setTimer } from './timer.js';

export interface RuntimeStats {
  /** Packets handed to host.input(). */
  rxPackets: number;
  /** Packets taken from the host and given to a link. */
  txPackets: number;
  /** Packets the host produced for an interface with no attached link (dropped). */
  txNoLink: number;
  /** Timer expiries that ran host.onTimeout(). */
  timeouts: number;
}

const OWNED: RxMeta = Object.freeze({ owned: true });
const OWNED_VERIFIED: RxMeta = Object.freeze({ owned: true, checksumVerified: true });

/** Milliseconds on a monotonic clock: the `now` every stack call receives. */
export type Clock = () => number;

export class HostRuntime {
  readonly stats: RuntimeStats = { rxPackets: 0, txPackets: 0, txNoLink: 0, timeouts: 0 };
  private readonly links = new Map<number, Link>();
  private timer: NodeJS.Timeout | undefined;
  private timerDeadline = Infinity;
  private flushQueued = false;
  private stopped = false;

  constructor(
    readonly host: Host,
    readonly clock: Clock = () => performance.now(),
  ) {}

  /** Connects interface `ifIndex` of the host to `link`; received batches feed the host. */
  attach(ifIndex: number, link: Link): void {
    this.links.set(ifIndex, link);
    link.onReceive((batch) => this.receive(ifIndex, batch));
  }

  now(): number {
    return this.clock();
  }

  /**
   * Call after anything that may have produced output or changed timers outside a packet
   * arrival (an application write, a connect). Work is coalesced to one flush per tick, so
   * a burst of small writes leaves as few segments as the stack decides, not one per call.
   */
  kick(): void {
    if (this.flushQueued || this.stopped) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.service();
    });
  }

  /** Stops the timer and closes every attached link. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.all(links.map((l) => l.close()));
  }

  private receive(ifIndex: number, batch: LinkPacket[]): void {
    if (this.stopped) return;
    const now = this.clock();
    // A link gives its packets away (LinkPacket): the stack may keep views into them.
    for (const { packet, meta } of batch) this.host.input(ifIndex, packet, now, meta.checksumVerified === true ? OWNED_VERIFIED : OWNED);
    this.stats.rxPackets += batch.length;
    this.service();
  }

  /** Runs due timers, drains the output queue and re-arms the timer. */
  private service(): void {
    if (this.stopped) return;
    const now = this.clock();
    const due = this.host.nextTimeout();
    if (due !== undefined && due <= now) {
      this.stats.timeouts++;
      this.host.onTimeout(now);
    }
    this.flush();
    this.arm();
  }

  private flush(): void {
    for (let out = this.host.pollTransmit(); out; out = this.host.pollTransmit()) {
      const link = this.links.get(out.ifIndex);
      if (!link) {
        this.stats.txNoLink++;
        continue;
      }
      link.send(out.packet, out.offload, out.payload);
      this.stats.txPackets++;
    }
  }

  private arm(): void {
    const deadline = this.host.nextTimeout() ?? Infinity;
    if (deadline === this.timerDeadline && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDeadline = deadline;
    if (deadline === Infinity) return;
    // setTimeout fires no earlier than asked; rounding up avoids a spin of early wake-ups.
    const delay = Math.ceil(deadline - this.clock());
    this.timer = setTimer(() => {
      this.timer = undefined;
      this.timerDeadline = Infinity;
      this.service();
    }, delay);
  }
}
