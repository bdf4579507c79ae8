/**
 * Reads `wg show all dump`: tab-separated, one line per interface then one per peer.
 * Private and preshared keys are dropped while parsing, so nothing downstream can print them.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { isWgKey } from './wireguard.js';

export interface WgDumpInterface {
  name: string;
  publicKey: string | null; // null when the interface has no key yet
  listenPort: number;
  fwmark: number | null; // null = off
}

export interface WgDumpPeer {
  interface: string;
  publicKey: string;
  hasPresharedKey: boolean;
  endpoint: string | null;
  allowedIps: string[];
  latestHandshake: number; // epoch seconds, 0 = never
  transferRx: number;
  transferTx: number;
  persistentKeepalive: number | null; // null = off
}

export interface WgDump {
  interfaces: WgDumpInterface[];
  peers: WgDumpPeer[];
}

const INTERFACE_FIELDS = 5; // name private-key public-key listen-port fwmark
const PEER_FIELDS = 9; // name public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive
/** What each number of a dump can be (wg(8): u16 ports and keepalive, u32 fwmark, u64 counters, epoch seconds). */
const MAX_U16 = 65_535;
const MAX_U32 = 0xffff_ffff;
const MAX_U64 = 18_446_744_073_709_551_615n;
/** 9999-12-31T23:59:59Z: the last second a date can name; a later handshake is not a time. */
export const MAX_HANDSHAKE = 253_402_300_799;
const HINT = 'pass the complete output of `wg show all dump` (as root on the server), e.g. `sudo wg show all dump | infra vpn status -`';

export function parseWgDump(text: string): WgDump {
  const interfaces: WgDumpInterface[] = [];
  const peers: WgDumpPeer[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  lines.forEach((rawLine, index) => {
    const lineNo = index + 1;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return;
    const fail = (why: string) => new InfraError(ExitCode.invalid, `wg dump line ${lineNo}: ${why}`, { hint: HINT });
    const f = line.split('\t');
    const count = (s: string, field: string, max: number | bigint = MAX_U64): number => {
      if (!/^[0-9]+$/.test(s)) throw fail(`${field} is not a number`);
      if (s.length > 20 || BigInt(s) > BigInt(max)) throw fail(`${field} ${s.length > 24 ? `${s.slice(0, 20)}…` : s} is out of range (at most ${max})`);
      return Number(s);
    };
    if (f.length === INTERFACE_FIELDS) {
      const [name, privateKey, publicKey, port, fwmark] = f;
      // A peer line cut after five fields looks like an interface line; the field shapes tell them apart.
      if (seen.has(name)) throw fail(`interface ${name} listed twice (is the line truncated?)`);
      if (privateKey !== '(none)' && !isWgKey(privateKey)) throw fail('the private key field is not a key (is the line truncated?)');
      if (publicKey !== '(none)' && !isWgKey(publicKey)) throw fail('the public key field is not a key');
      if (!/^0x[0-9a-f]+$|^off$/i.test(fwmark)) throw fail('fwmark is neither "off" nor a hex number (is the line truncated?)');
      if (fwmark !== 'off' && (fwmark.length > 10 || parseInt(fwmark.slice(2), 16) > MAX_U32)) throw fail('fwmark is out of range (at most 0xffffffff)');
      seen.add(name);
      interfaces.push({
        name,
        publicKey: publicKey === '(none)' ? null : publicKey,
        listenPort: count(port, 'listen-port', MAX_U16),
        fwmark: fwmark === 'off' ? null : parseInt(fwmark.slice(2), 16),
      });
      return;
    }
    if (f.length === PEER_FIELDS) {
      const [name, publicKey, preshared, endpoint, allowed, handshake, rx, tx, keepalive] = f;
      if (!isWgKey(publicKey)) throw fail('the peer public key is not a key');
      if (preshared !== '(none)' && !isWgKey(preshared)) throw fail('the preshared key field is not a key');
      if (keepalive !== 'off' && !/^[0-9]+$/.test(keepalive)) throw fail('persistent-keepalive is neither "off" nor a number');
      peers.push({
        interface: name,
        publicKey,
        hasPresharedKey: preshared !== '(none)',
        endpoint: endpoint === '(none)' ? null : endpoint,
        allowedIps: allowed === '(none)' || allowed === '' ? [] : allowed.split(','),
        latestHandshake: count(handshake, 'latest-handshake', MAX_HANDSHAKE),
        transferRx: count(rx, 'transfer-rx'),
        transferTx: count(tx, 'transfer-tx'),
        persistentKeepalive: keepalive === 'off' ? null : count(keepalive, 'persistent-keepalive', MAX_U16),
      });
      return;
    }
    throw fail(`${f.length} tab-separated fields; an interface line has ${INTERFACE_FIELDS} and a peer line ${PEER_FIELDS} (is the line truncated?)`);
  });
  return { interfaces, peers };
}

/** "never", "just now", "1 minute ago", "3 days ago". */
export function describeHandshake(epochSeconds: number, nowSeconds: number): string {
  if (epochSeconds === 0) return 'never';
  const elapsed = Math.floor(nowSeconds - epochSeconds);
  if (elapsed < 1) return 'just now';
  const units: Array<[string, number]> = [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  for (const [unit, seconds] of units) {
    if (elapsed >= seconds) {
      const n = Math.floor(elapsed / seconds);
      return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
    }
  }
  return 'just now';
}
