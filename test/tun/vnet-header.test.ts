// virtio_net_hdr codec on headers read from a Linux 6.18 TUN (IFF_VNET_HDR, TUNSETOFFLOAD
// CSUM|TSO4|TSO6) in a namespace: a kernel TCP SYN, a UDP datagram and a TSO super-packet.

import { describe, expect, it } from 'vitest';
import {
  emitVnetHeader,
  parseVnetHeader,
  VNET_HDR_F_NEEDS_CSUM,
  VNET_HDR_GSO_NONE,
  VNET_HDR_GSO_TCPV4,
  VNET_HEADER_LENGTH,
  VnetHeaderView,
} from '../../tun/vnet-header.js';
import { errorCode, hex, unwrap } from '../wire/helpers.js';

const captured = {
  /** connect() to a peer behind the TUN: the SYN, checksum left partial. */
  tcpSyn: hex('01 00 0000 0000 1400 1000'),
  /** sendto() of 5 bytes: partial UDP checksum at offset 6. */
  udp: hex('01 00 0000 0000 1400 0600'),
  /** The initial window of a TCP flow in one 7340-byte read: GSO TCPV4, MSS 1460, 40 header bytes. */
  tcpGso: hex('01 01 2800 b405 1400 1000'),
};

describe('virtio_net_hdr', () => {
  it('reads the kernel headers field by field', () => {
    expect(unwrap(parseVnetHeader(captured.tcpGso))).toEqual({
      flags: VNET_HDR_F_NEEDS_CSUM,
      gsoType: VNET_HDR_GSO_TCPV4,
      hdrLen: 40,
      gsoSize: 1460,
      csumStart: 20,
      csumOffset: 16,
    });
    expect(unwrap(parseVnetHeader(captured.udp))).toMatchObject({ gsoType: VNET_HDR_GSO_NONE, csumStart: 20, csumOffset: 6 });
    expect(unwrap(VnetHeaderView.wrap(captured.tcpSyn)).checksumVerified).toBe(true);
    expect(unwrap(VnetHeaderView.wrap(new Uint8Array(VNET_HEADER_LENGTH))).checksumVerified).toBe(false);
    expect(unwrap(VnetHeaderView.wrap(hex('02 00 0000 0000 0000 0000'))).checksumVerified).toBe(true); // DATA_VALID
  });

  it('re-encodes byte for byte, at an offset', () => {
    for (const bytes of Object.values(captured)) {
      const out = new Uint8Array(3 + VNET_HEADER_LENGTH).fill(0xee);
      expect(emitVnetHeader(unwrap(parseVnetHeader(bytes)), out, 3)).toBe(VNET_HEADER_LENGTH);
      expect(out.subarray(3)).toEqual(bytes);
      expect(out.subarray(0, 3)).toEqual(Uint8Array.from([0xee, 0xee, 0xee]));
    }
  });

  it('rejects a read shorter than the header, and ignores what follows it', () => {
    expect(errorCode(parseVnetHeader(captured.udp.subarray(0, 9)))).toBe('TRUNCATED');
    const withPacket = Uint8Array.from([...captured.tcpGso, 0x45, 0x00]);
    expect(unwrap(parseVnetHeader(withPacket)).gsoSize).toBe(1460);
  });
});
