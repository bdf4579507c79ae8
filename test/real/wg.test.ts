/**
 * The real `wg`, `wg-quick` and `wireguard-go`: keys equal `wg pubkey`, rendered configs pass
 * `wg-quick strip` and load with `wg setconf` on a userspace interface in a throwaway network namespace.
 */
import { randomBytes } from 'node:crypto';
import { runSync } from '../helpers/program.js';
import { alive, requireTool } from '../helpers/real-tools.js';
import { InfraError } from '../../src/lib/errors.js';
import {
  generatePrivateKey,
  isWgKey,
  publicKeyOf,
  renderDeviceConfig,
  type DeviceConfigInput,
  type ServerPeer,
} from '../../src/core/wireguard.js';
import { parseWgDump } from '../../src/core/wg-dump.js';
import { runProgram, wgShowDump } from '../../src/adapters/wg.js';
import { wgGenkey, wgPubkey, wgQuickStrip, wgSetconf, wgShowconf } from '../helpers/wg-tools.js';

const haveTools =
  requireTool('wg', 'wireguard-tools') && requireTool('wg-quick', 'wireguard-tools') && requireTool('wireguard-go', 'wireguard-go') && requireTool('ip', 'iproute2');
const d = haveTools ? describe : describe.skip;

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** `wg showconf` as key -> values per section, e.g. peers[0].AllowedIPs. */
function parseShowconf(text: string): { iface: Record<string, string>; peers: Array<Record<string, string>> } {
  const iface: Record<string, string> = {};
  const peers: Array<Record<string, string>> = [];
  let section: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '[Interface]') section = iface;
    else if (t === '[Peer]') peers.push((section = {}));
    else if (t.includes('=') && section) {
      const at = t.indexOf('=');
      section[t.slice(0, at).trim()] = t.slice(at + 1).trim();
    }
  }
  return { iface, peers };
}

const splitList = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean).sort();

d('wg keys (real wg)', () => {
  it('wg pubkey derives the same public key for 50 keys made here, clamped or not', async () => {
    for (let i = 0; i < 50; i++) {
      const key = i % 5 === 4 ? randomBytes(32).toString('base64') : generatePrivateKey(randomBytes);
      expect(await wgPubkey(key)).toBe(publicKeyOf(key));
    }
  });

  it('publicKeyOf agrees with wg pubkey on keys from wg genkey', async () => {
    for (let i = 0; i < 20; i++) {
      const key = await wgGenkey();
      expect(isWgKey(key)).toBe(true);
      expect(publicKeyOf(key)).toBe(await wgPubkey(key));
    }
  });

  it('wg refuses the non-canonical keys that checkWgKey refuses', async () => {
    const key = generatePrivateKey(randomBytes);
    const last = BASE64_ALPHABET.indexOf(key[42]);
    const bent = `${key.slice(0, 42)}${BASE64_ALPHABET[last | 1]}=`;
    expect(isWgKey(bent)).toBe(false);
    await expect(wgPubkey(bent)).rejects.toBeInstanceOf(InfraError);
  });
});

d('wg-quick strip + wg setconf on wireguard-go (real)', () => {
  // Unique per run (jest runs files in parallel; a crashed run may leave its namespace behind). The interface
  // too: wireguard-go's control sockets share /var/run/wireguard across namespaces.
  const run = randomBytes(4).toString('hex');
  const ns = `infratest-wg-${run}`;
  const iface = `wgt${run}`;
  let nsCreated = false;

  const sh = (args: string[], env: NodeJS.ProcessEnv = process.env) => {
    // wireguard-go daemonizes: ignore stdio so its child does not hold our pipes open.
    runSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env, timeoutMs: 20_000, check: true });
  };

  beforeAll(() => {
    sh(['ip', 'netns', 'add', ns]);
    nsCreated = true;
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const env = { ...process.env };
    delete env.WG_PROCESS_FOREGROUND;
    sh(['ip', 'netns', 'exec', ns, 'wireguard-go', iface], env);
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'show', iface]);
  });

  afterAll(async () => {
    if (!nsCreated) return;
    // Only processes inside our own namespace: the wireguard-go we started.
    const pids = runSync('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 20 && pids.some((pid) => alive(pid)); i++) await new Promise((r) => setTimeout(r, 100));
    runSync('ip', ['netns', 'del', ns]);
  });


  const server = generatePrivateKey(randomBytes);
  const device = generatePrivateKey(randomBytes);
  const base: DeviceConfigInput = {
    privateKey: device,
    addresses: ['10.77.0.5/32', 'fd77:77::5/128'],
    dns: ['10.77.0.1', 'fd77:77::1'],
    mtu: 1420,
    serverPublicKey: publicKeyOf(server),
    endpoint: '192.0.2.1:51820',
    allowedIps: ['10.77.0.0/24', 'fd77:77::/64'],
    keepalive: 25,
    comment: 'alice/laptop on network meet',
  };

  it.each<[string, DeviceConfigInput, string]>([
    ['dual-stack with DNS, MTU and keepalive', base, '192.0.2.1:51820'],
    ['an IPv6 endpoint', { ...base, endpoint: '[2001:db8::1]:51820' }, '[2001:db8::1]:51820'],
    ['a host name endpoint', { ...base, endpoint: 'localhost:51820', dns: undefined, mtu: undefined }, '127.0.0.1:51820'],
    ['IPv4 only, no keepalive', { ...base, addresses: ['10.77.0.9/32'], allowedIps: ['10.77.0.0/24'], dns: undefined, keepalive: undefined, mtu: undefined }, '192.0.2.1:51820'],
    ['a device that holds its own key', { ...base, privateKey: undefined }, '192.0.2.1:51820'],
  ])('%s', async (_label, input, shownEndpoint) => {
    const text = renderDeviceConfig(input);
    const stripped = await wgQuickStrip(text, 'wgtest0');
    // wg-quick recognised its own keys and took them out.
    expect(stripped).not.toMatch(/^\s*(Address|DNS|MTU)\s*=/m);
    await wgSetconf(iface, stripped, ns);
    const shown = parseShowconf(await wgShowconf(iface, ns));
    expect(shown.iface.PrivateKey).toBe(input.privateKey);
    expect(shown.peers).toHaveLength(1);
    const [peer] = shown.peers;
    expect(peer.PublicKey).toBe(input.serverPublicKey);
    expect(peer.Endpoint).toBe(shownEndpoint);
    expect(splitList(peer.AllowedIPs)).toEqual([...input.allowedIps].sort());
    expect(peer.PersistentKeepalive).toBe(input.keepalive === undefined ? undefined : String(input.keepalive));
  });

  it('loads the server peer list and reads it back from wg show all dump', async () => {
    const peers: ServerPeer[] = Array.from({ length: 5 }, (_, i) => {
      const key = generatePrivateKey(randomBytes);
      return { name: `member${i}/laptop`, public_key: publicKeyOf(key), allowed_ips: [`10.77.0.${i + 2}/32`, `fd77:77::${i + 2}/128`] };
    });
    const peerSections = peers.map((p) => `[Peer]\nPublicKey = ${p.public_key}\nAllowedIPs = ${p.allowed_ips.join(', ')}\n`);
    await wgSetconf(iface, peerSections.join('\n'), ns);

    const shown = parseShowconf(await wgShowconf(iface, ns));
    const byKey = (list: Array<{ key: string; ips: string[] }>) => list.sort((a, b) => a.key.localeCompare(b.key));
    const expected = byKey(peers.map((p) => ({ key: p.public_key, ips: [...p.allowed_ips].sort() })));
    expect(byKey(shown.peers.map((p) => ({ key: p.PublicKey, ips: splitList(p.AllowedIPs) })))).toEqual(expected);

    // Our interface only: `wg show all` would also ask the daemons of other tests' interfaces (wireguard-go's
    // control sockets in /var/run/wireguard are not per-namespace), some of them starting or stopping.
    const dump = parseWgDump(await wgShowDump(ns, iface));
    expect(dump.interfaces.map((i) => i.name)).toEqual([iface]);
    expect(byKey(dump.peers.map((p) => ({ key: p.publicKey, ips: [...p.allowedIps].sort() })))).toEqual(expected);
    expect(dump.peers.every((p) => p.interface === iface && p.latestHandshake === 0 && p.endpoint === null)).toBe(true);
  });

  it('wg setconf refuses a non-canonical key, as checkWgKey does', async () => {
    const key = publicKeyOf(generatePrivateKey(randomBytes));
    const last = BASE64_ALPHABET.indexOf(key[42]);
    const bent = `${key.slice(0, 42)}${BASE64_ALPHABET[last | 1]}=`;
    expect(isWgKey(bent)).toBe(false);
    await expect(wgSetconf(iface, `[Peer]\nPublicKey = ${bent}\nAllowedIPs = 10.77.0.2/32\n`, ns)).rejects.toMatchObject({ exitCode: 3 });
  });

  it('runProgram reports a missing program as InfraError with the install hint', async () => {
    await expect(runProgram('infra-no-such-program-xyz', [])).rejects.toMatchObject({ exitCode: 5, hint: expect.stringContaining('wireguard-tools') });
  });
});
