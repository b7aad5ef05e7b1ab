// Builds the configured congestion controller for a new connection or subflow.

import type { CongestionControlName, TcpConfig } from '../../config.js';
import type { CongestionController } from './controller.js';
import { Cubic } from './cubic.js';
import { NewReno } from './newreno.js';

export type CongestionConfig = Pick<TcpConfig, 'initialCwndSegments' | 'hystart' | 'abcLimitSegments'>;

export function createCongestionController(
  name: CongestionControlName,
  mss: number,
  config: CongestionConfig,
): CongestionController {
  const options = { initialCwndSegments: config.initialCwndSegments, hystart: config.hystart, abcLimitSegments: config.abcLimitSegments };
  return name === 'newreno' ? new NewReno(mss, options) : new Cubic(mss, options);
}
