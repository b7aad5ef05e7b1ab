// Thesis Table 1 (section 2.3) as functions: listen, open, accept, write, read, close, with
// `*` wildcards for names, IANA service names, and transport stream (MPTCP falling back to
// TCP) or dgram (UDP). Handles are the idiomatic sockets themselves (NameServer / NameSocket
// for stream, NameDatagramServer / NameDatagram for dgram), so a program may switch between
// the two forms at any point. Failures reject with coded errors (err.code).

import { parseTransport } from './arguments.js';
import { NameDatagram, NameDatagramServer } from './name-datagram.js';
import { NameServer } from './name-server.js';
import { NameSocket } from './name-socket.js';
import type { NameStack } from './name-stack.js';
import type { SocketDriver } from './tcp-socket.js';

export type ListenHandle = NameServer | NameDatagramServer;
export type SessionHandle = NameSocket | NameDatagram;

export class NameSocketApi {
  constructor(
    private readonly driver: SocketDriver,
    readonly names: NameStack,
  ) {}

  /** fd = listen(local_name, peer_name, service, transport); `requireVerified` takes only verified peers. */
  async listen(localName: string, peerName: string, service: string | number, transport = 'stream', opts: { requireVerified?: boolean } = {}): Promise<ListenHandle> {
    const args = { localName, peerName, service, transport, ...(opts.requireVerified !== undefined && { requireVerified: opts.requireVerified }) };
    if (parseTransport(transport) === 'dgram') return new NameDatagramServer(this.driver, this.names.listenDgram(args));
    return new Promise((resolve, reject) => {
      const server = new NameServer(this.driver, this.names);
      server.once('error', reject);
      server.listen(args, () => resolve(server));
    });
  }

  /** fd = open(local_name, peer_name, service, transport). */
  async open(localName: string, peerName: string, service: string | number, transport = 'stream'): Promise<SessionHandle> {
    const args = { localName, peerName, service, transport };
    if (parseTransport(transport) === 'dgram') {
      return new Promise((resolve, reject) => {
        this.names.openDgram(args, this.driver.now(), (r) => (r.ok ? resolve(new NameDatagram(this.driver, r.socket)) : reject(r.error)));
        this.driver.kick();
      });
    }
    return new Promise((resolve, reject) => {
      const socket = new NameSocket({ driver: this.driver, names: this.names });
      socket.once('error', reject);
      socket.open(args, () => {
        socket.off('error', reject);
        resolve(socket);
      });
    });
  }

  /** accept(peer_name, fd): the new session's handle and the peer's name. */
  async accept(peerName: string, listener: ListenHandle): Promise<{ handle: SessionHandle; peerName: string | undefined }> {
    const handle = await listener.accept(peerName);
    return { handle, peerName: handle.peerName };
  }

  /** write(fd, data): resolves once the stack took the bytes (stream) or sent the datagram. */
  async write(fd: SessionHandle, data: Uint8Array): Promise<void> {
    if (fd instanceof NameDatagram) return fd.send(data);
    return new Promise((resolve, reject) => fd.write(data, (e) => (e ? reject(e) : resolve())));
  }

  /** data = read(fd): the next bytes (stream) or datagram; null at the end of the stream. */
  read(fd: SessionHandle): Promise<Uint8Array | null> {
    if (fd instanceof NameDatagram) {
      const d = fd.receive();
      return d ? Promise.resolve(d) : new Promise((resolve) => fd.once('message', resolve));
    }
    const chunk = fd.read() as Buffer | null;
    if (chunk !== null || fd.readableEnded) return Promise.resolve(chunk);
    return new Promise((resolve, reject) => {
      const done = (value: Buffer | null, error?: Error): void => {
        fd.off('readable', onReadable).off('end', onEnd).off('error', onError);
        if (error) reject(error);
        else resolve(value);
      };
      const onReadable = (): void => {
        const c = fd.read() as Buffer | null;
        if (c !== null) done(c);
      };
      const onEnd = (): void => done(null);
      const onError = (e: Error): void => done(null, e);
      fd.on('readable', onReadable).once('end', onEnd).once('error', onError);
    });
  }

  /** close(fd): a stream ends with FIN (or RST with unread data, as close(2)); a listener stops. */
  close(fd: SessionHandle | ListenHandle): void {
    if (fd instanceof NameSocket) fd.end(() => fd.destroy());
    else fd.close();
  }
}
