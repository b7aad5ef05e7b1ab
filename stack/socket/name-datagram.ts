// The idiomatic form of name-based dgram sockets, like Node's dgram.Socket: 'message'
// events (a Buffer per datagram), send(), close(), and the names of both ends. A
// NameDatagramServer hands out one NameDatagram per peer ('session', or accept(peerName)).

import { EventEmitter } from 'node:events';
import { ANY_NAME } from '../name/exchange.js';
import type { NameDgramListener, NameDgramSession, NameDgramSocket } from './dgram.js';
import type { SocketDriver } from './tcp-socket.js';

export class NameDatagram extends EventEmitter {
  constructor(
    private readonly driver: SocketDriver,
    private readonly peer: NameDgramSocket | NameDgramSession,
  ) {
    super();
    // Datagrams wait in the peer's queue (bounded) until someone listens for 'message' or calls receive().
    peer.onMessage = () => {
      if (this.listenerCount('message') === 0) return;
      for (let d = peer.receive(); d; d = peer.receive()) this.emit('message', toBuffer(d.data));
    };
    this.on('newListener', (event) => event === 'message' && queueMicrotask(() => peer.onMessage?.()));
  }

  /** The next datagram waiting, if any (for a reader that does not listen for 'message'). */
  receive(): Buffer | undefined {
    const d = this.peer.receive();
    return d && toBuffer(d.data);
  }

  get localName(): string | undefined {
    return this.peer.localName;
  }

  get peerName(): string | undefined {
    return this.peer.peerName;
  }

  get peerNameVerified(): boolean {
    return this.peer.peerNameVerified;
  }

  /** Sends one datagram (names ride along until the peer's came back). Throws NameSocketError. */
  send(data: Uint8Array): void {
    this.peer.send(data, this.driver.now());
    this.driver.kick();
  }

  close(): void {
    this.peer.close();
    this.peer.onMessage = undefined;
    this.emit('close');
  }

  describe(): Record<string, unknown> {
    return this.peer.describe();
  }
}

export class NameDatagramServer extends EventEmitter {
  private readonly waiters: { peerName: string; resolve: (d: NameDatagram) => void }[] = [];

  constructor(
    private readonly driver: SocketDriver,
    readonly listener: NameDgramListener,
  ) {
    super();
    listener.onSession = (s) => this.incoming(s);
  }

  /** The next new peer named `peerName` (`*`: any). */
  accept(peerName: string = ANY_NAME): Promise<NameDatagram> {
    const s = this.listener.accept(peerName);
    if (s) return Promise.resolve(new NameDatagram(this.driver, s));
    return new Promise((resolve) => this.waiters.push({ peerName, resolve }));
  }

  close(): void {
    this.listener.close();
    this.emit('close');
  }

  /** A new peer: to a waiting accept(), to 'session', or (false) into the listener's queue. */
  private incoming(s: NameDgramSession): boolean {
    const i = this.waiters.findIndex((w) => w.peerName === ANY_NAME || w.peerName === s.peerName);
    if (i >= 0) {
      this.waiters.splice(i, 1)[0]!.resolve(new NameDatagram(this.driver, s));
      return true;
    }
    if (this.listenerCount('session') === 0) return false;
    this.emit('session', new NameDatagram(this.driver, s));
    return true;
  }
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
