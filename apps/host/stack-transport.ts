// The daemon's stream transport over the stack's TCP layer. The TCP layer (stack/tcp/, issue
// 4) is not in the tree yet: until it is, the daemon answers connect and listen with ENOTSUP.

import type { Host } from '../../stack/ip/host.js';
import type { HostRuntime } from '../../tun/runtime.js';
import { NO_TRANSPORT, type StreamTransport } from './transport.js';

export function stackTransport(_host: Host, _runtime: HostRuntime): StreamTransport {
  return NO_TRANSPORT;
}
