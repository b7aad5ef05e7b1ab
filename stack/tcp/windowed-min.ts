// Windowed minimum over time (Kathleen Nichols' algorithm, as Linux lib/win_minmax.c uses
// for tcp_min_rtt): the smallest sample seen in the last `windowMs`, in O(1) time and
// memory. It keeps the best, second-best and third-best samples of staggered sub-windows
// so that when the best one ages out, a good successor is already known.
// RACK (RFC 8985 6.2 step 1) and HyStart++ baselines read the min RTT from it.

interface Sample {
  t: number;
  v: number;
}

export class WindowedMin {
  private readonly s: [Sample, Sample, Sample];

  constructor(private readonly windowMs: number) {
    const none = { t: 0, v: Infinity };
    this.s = [none, none, none];
  }

  /** The current windowed minimum; Infinity before the first sample. */
  get value(): number {
    return this.s[0].v;
  }

  /** Add a measurement taken at `now`; returns the updated minimum. */
  update(now: number, v: number): number {
    const s = this.s;
    const sample = { t: now, v };
    // A new overall minimum, or nothing left inside the window: restart from this sample.
    if (v <= s[0].v || now - s[2].t > this.windowMs) {
      s[0] = s[1] = s[2] = sample;
      return v;
    }
    if (v <= s[1].v) s[1] = s[2] = sample;
    else if (v <= s[2].v) s[2] = sample;
    return this.ageOut(sample);
  }

  /** Forget everything (e.g. after a route change). */
  reset(): void {
    const none = { t: 0, v: Infinity };
    this.s[0] = this.s[1] = this.s[2] = none;
  }

  private ageOut(sample: Sample): number {
    const s = this.s;
    const w = this.windowMs;
    const dt = sample.t - s[0].t;
    if (dt > w) {
      // The best sample expired: promote the runners-up (twice if the second also expired).
      s[0] = s[1];
      s[1] = s[2];
      s[2] = sample;
      if (sample.t - s[0].t > w) {
        s[0] = s[1];
        s[1] = s[2];
      }
    } else if (s[1].t === s[0].t && dt > w / 4) {
      // A quarter of the window passed with no distinct second choice: take this one.
      s[1] = s[2] = sample;
    } else if (s[2].t === s[1].t && dt > w / 2) {
      s[2] = sample;
    }
    return s[0].v;
  }
}
