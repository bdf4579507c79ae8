/**
 * hostile strings x outputs, with the real programs. `wg-quick strip` reads the device config of
 * every accepted case and of a config whose comment carries each hostile string: it must see exactly the
 * keys and values infra meant (a comment or value that broke a line would add one). And the real
 * `ansible-inventory --list`: every case of
 * test/core/hostile-strings.test.ts that was accepted at input is rendered, all of them into one inventory
 * (one host per case), and Ansible must read each host's variables exactly as infra's own YAML reader
 * does: no extra variable, no split line, no key that is not a Unix user name.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { mustRun } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';
import { renderDeviceConfig } from '../../src/core/wireguard.js';
import { FIELDS, HOSTILE, runCase, TEST_WG_PRIVATE_KEY } from '../core/hostile-strings-cases.js';

const ready = requireTool('ansible-inventory', 'ansible');

(ready ? describe : describe.skip)('hostile strings, as the real ansible-inventory reads the rendered files', () => {
  it('every accepted case reads back as infra wrote it', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-hostile-'));
    try {
      const expected: Record<string, unknown> = {};
      let n = 0;
      for (const field of FIELDS)
        for (const [label, value] of Object.entries(HOSTILE)) {
          const r = runCase(field, label, value);
          if (r.outcome !== 'inert') continue;
          for (const text of r.rendered!.values()) {
            const host = `case${n++}`;
            await fs.mkdir(path.join(tmp, 'host_vars', host), { recursive: true });
            await fs.writeFile(path.join(tmp, 'host_vars', host, 'infra.generated.yml'), text);
            expected[host] = parse(text);
          }
        }
      expect(n).toBeGreaterThan(20);
      await fs.writeFile(path.join(tmp, 'hosts.yml'), `all:\n  hosts:\n${Object.keys(expected).map((h) => `    ${h}:\n`).join('')}`);
      const out = JSON.parse(mustRun('ansible-inventory', ['-i', path.join(tmp, 'hosts.yml'), '--list'], { env: { ...process.env, ANSIBLE_NOCOLOR: '1' }, timeoutMs: 120_000 }));
      for (const [host, vars] of Object.entries(expected)) expect([host, out._meta.hostvars[host]]).toEqual([host, vars]);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});

const wgReady = requireTool('wg-quick', 'wireguard-tools') && requireTool('wg', 'wireguard-tools');

/** What `wg-quick strip` leaves of a device config: the keys `wg` reads, in order, from infra's own inputs. */
const stripped = (c: { privateKey: string; serverPublicKey: string; endpoint: string; allowedIps: string[] }) =>
  `[Interface]\nPrivateKey = ${c.privateKey}\n\n[Peer]\nPublicKey = ${c.serverPublicKey}\nEndpoint = ${c.endpoint}\nAllowedIPs = ${c.allowedIps.join(', ')}\n`;

(wgReady ? describe : describe.skip)('hostile strings, as the real wg-quick strip reads the device configs', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-hostile-wg-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });
  const strip = async (config: string) => {
    const file = path.join(tmp, 'wg0.conf'); // wg-quick takes the interface name from the file name
    await fs.writeFile(file, config, { mode: 0o600 });
    const out = mustRun('wg-quick', ['strip', file], { timeoutMs: 30_000 });
    // strip keeps comment lines: infra's must stay exactly one line, and the rest is what wg reads
    const lines = out.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('#'))).toHaveLength(1);
    return `${lines.filter((l) => !l.startsWith('#')).join('\n')}\n`;
  };

  it('every accepted case: the config of `vpn join` strips to the keys infra meant', async () => {
    let n = 0;
    for (const field of FIELDS)
      for (const [label, value] of Object.entries(HOSTILE)) {
        const r = runCase(field, label, value);
        if (r.outcome !== 'inert') continue;
        const net = r.config!.vpn[r.member!.vpn_peers[0].network];
        expect([field.name, label, await strip(r.wgConfig!)]).toEqual([field.name, label, stripped({ privateKey: TEST_WG_PRIVATE_KEY, serverPublicKey: net.server_public_key, endpoint: net.endpoint, allowedIps: net.allowed_ips })]);
        n++;
      }
    expect(n).toBeGreaterThan(20);
  }, 120_000);

  it.each(Object.entries(HOSTILE))('a comment carrying %s stays one comment line; the rest is what wg reads', async (_, value) => {
    const input = { privateKey: TEST_WG_PRIVATE_KEY, addresses: ['10.77.0.5/32'], serverPublicKey: Buffer.alloc(32, 9).toString('base64'), endpoint: 'vpn.example.org:51820', allowedIps: ['10.77.0.0/24'] };
    expect(await strip(renderDeviceConfig({ ...input, comment: value }))).toBe(stripped(input));
  });
});
