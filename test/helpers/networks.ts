/** The `meet` VPN network that core tests share (10.77.0.0/24 and fd77:77::/64, servers `vpn`), with overrides. */
import type { VpnNetwork } from '../../src/core/types.js';

export function meetNetwork(over: Partial<VpnNetwork> = {}): VpnNetwork {
  return {
    name: 'meet',
    ipv4: '10.77.0.0/24',
    ipv6: 'fd77:77::/64',
    endpoint: 'vpn.example.org:51820',
    server_public_key: Buffer.alloc(32, 9).toString('base64'),
    reserved: [],
    allowed_ips: ['10.77.0.0/24'],
    servers: 'vpn',
    ...over,
  };
}
