// CPU utilisation of this process over a test, as iperf3 reports it (iperf_util.c cpu_util):
// CPU time used divided by wall time, in percent, total and split into user and system.
// With the in-process namestack transport the stack's own work is included, which is the
// point: it is the cost of moving the bytes.

import { performance } from 'node:perf_hooks';

export interface CpuUtilization {
  total: number;
  user: number;
  system: number;
  /** CPU seconds used (user + system) over the measurement. */
  seconds: number;
}

export class CpuMeter {
  private startWall = performance.now();
  private startUsage = process.cpuUsage();

  restart(): void {
    this.startWall = performance.now();
    this.startUsage = process.cpuUsage();
  }

  read(): CpuUtilization {
    const wallUs = (performance.now() - this.startWall) * 1000;
    const used = process.cpuUsage(this.startUsage);
    const pct = (us: number): number => (wallUs > 0 ? (us / wallUs) * 100 : 0);
    return { total: pct(used.user + used.system), user: pct(used.user), system: pct(used.system), seconds: (used.user + used.system) / 1e6 };
  }
}
