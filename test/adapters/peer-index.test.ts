/**
 * The peer index (peers/ in the registry's derived state): `vpn join` through the real store on disk gives the same addresses
 * with it as without it, and whatever happened to the registry or to the index since it was written (a hand
 * edit, a removed or renamed member, a corrupt shard, another validator) the join still gets the right answer.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';
import { stringify } from 'yaml';
import { joinVpn } from '../../src/services/vpn.js';
import { seededRandom, testContext } from '../helpers/context.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { rejection } from '../helpers/thrown.js';
import { derivedFile, dropDerivedState, keepDerivedStateForSmallRegistries, peersDir, readDerivedBody, rewriteDerived } from '../helpers/derived-state.js';

const wgKey = (label: string) => publicKeyOf(generatePrivateKey(seededRandom(label)));
const meet = { ipv4: '10.9.0.0/24', ipv6: 'fd09::/64', endpoint: 'vpn.example.org:51820', server_public_key: wgKey('server'), reserved: ['10.9.0.1', 'fd09::1'], allowed_ips: ['10.9.0.0/24'], servers: 'vpn' };
const peer = (device: string, n: number) => ({ device, network: 'meet', public_key: wgKey(`${device}-${n}`), addresses: [`10.9.0.${n}/32`, `fd09::${n.toString(16)}/128`], added: '2026-01-01' });

/** Members a..e holding .2-.3, .4-.5, .6-.7, .8-.9, .10-.11 (and the same in IPv6). */
const fixture = () =>
  makeRegistry({
    config: baseConfig({ vpn: { meet }, admins: ['a'] }),
    members: Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((h, i) => [h, memberData(h, { vpn_peers: [peer(`${h}0`, 2 + 2 * i), peer(`${h}1`, 3 + 2 * i)] })])),
    files: { 'inventories/production/hosts.yml': 'all:\n  children:\n    vpn:\n      hosts:\n        vpn1:\n' },
  });

keepDerivedStateForSmallRegistries(); // five members: keep derived state anyway

let joins = 0;
async function join(root: string, handle = 'a'): Promise<string[]> {
  const n = joins++;
  const result = await joinVpn(testContext({ root, json: true }), { handle, device: `new${n}`, publicKey: wgKey(`join-${n}`) });
  return result.addresses;
}

const readHead = async (root: string) => JSON.parse((await readDerivedBody(root, 'peers/head.json'))!) as { validator: string; config: string; shards: string[] };
const shardFiles = async (root: string) => (await fs.readdir(await peersDir(root))).filter((f) => /^\d+\.json$/.test(f)).sort();
const statOf = async (file: string) => {
  const s = await fs.stat(file, { bigint: true });
  return `${s.ino}:${s.mtimeNs}`;
};

describe('peer index', () => {
  it('is written by the first join; the next join uses it (the member cache is not rewritten) and gets the next address', async () => {
    const root = await fixture();
    expect(await join(root)).toEqual(['10.9.0.12/32', 'fd09::c/128']);
    expect((await shardFiles(root)).length).toBeGreaterThan(0);
    await expect(fs.access(path.join(root, '.infra-cache'))).rejects.toThrow(); // nothing derived is kept in the registry
    const membersCache = await statOf(await derivedFile(root, 'members.json'));
    expect(await join(root)).toEqual(['10.9.0.13/32', 'fd09::d/128']);
    expect(await join(root, 'c')).toEqual(['10.9.0.14/32', 'fd09::e/128']);
    // a whole-registry load would have found a's file changed and rewritten the member cache
    expect(await statOf(await derivedFile(root, 'members.json'))).toBe(membersCache);
    const text = await fs.readFile(path.join(root, 'keys/c/member.yml'), 'utf8');
    expect(text).toContain('10.9.0.14/32');
  });

  it('gives the same addresses as a registry without any derived state, join after join', async () => {
    const indexed = await fixture();
    const plain = await fixture();
    for (const handle of ['a', 'b', 'a', 'e', 'd']) {
      await dropDerivedState(plain);
      expect(await join(indexed, handle)).toEqual(await join(plain, handle));
    }
  });

  it('a hand-edited member file is read again: an address it took by hand is not handed out', async () => {
    const root = await fixture();
    await join(root); // .12, index written
    const file = path.join(root, 'keys/b/member.yml');
    const text = await fs.readFile(file, 'utf8');
    const extra = peer('byhand', 13);
    await fs.writeFile(file, `${text}  - device: byhand\n    network: meet\n    public_key: ${extra.public_key}\n    addresses: [10.9.0.13/32, "fd09::d/128"]\n    added: 2026-01-01\n`);
    expect(await join(root)).toEqual(['10.9.0.14/32', 'fd09::e/128']);
  });

  it("a removed member's addresses are free again; a renamed member folder keeps its addresses taken", async () => {
    const root = await fixture();
    await join(root); // .12
    await fs.rename(path.join(root, 'keys/e'), path.join(root, 'keys/ee'));
    expect(await join(root)).toEqual(['10.9.0.13/32', 'fd09::d/128']);
    await fs.rm(path.join(root, 'keys/b'), { recursive: true });
    expect(await join(root)).toEqual(['10.9.0.4/32', 'fd09::4/128']);
    expect(await join(root)).toEqual(['10.9.0.5/32', 'fd09::5/128']);
    expect(await join(root)).toEqual(['10.9.0.14/32', 'fd09::e/128']);
  });

  it('a truncated shard is not trusted: the join reads every member and writes the index again', async () => {
    const root = await fixture();
    await join(root); // .12
    const shard = path.join(await peersDir(root), (await shardFiles(root))[0]);
    const full = await fs.readFile(shard, 'utf8');
    await fs.writeFile(shard, full.slice(0, Math.floor(full.length / 2)));
    expect(await join(root)).toEqual(['10.9.0.13/32', 'fd09::d/128']);
    expect(await fs.readFile(shard, 'utf8')).not.toBe(full.slice(0, Math.floor(full.length / 2)));
    expect(await join(root)).toEqual(['10.9.0.14/32', 'fd09::e/128']);
  });

  it('a shard whose digest the head does not name makes the join read every member', async () => {
    const root = await fixture();
    await join(root); // .12
    const shards = await shardFiles(root);
    let bShard = '';
    for (const f of shards) if ((await readDerivedBody(root, `peers/${f}`))!.includes('"b":')) bShard = f;
    const data = JSON.parse((await readDerivedBody(root, `peers/${bShard}`))!);
    data.members.b.addresses = {};
    // signed as infra would sign it: only the head's digest can tell it is not the shard the head describes
    await rewriteDerived(root, `peers/${bShard}`, JSON.stringify(data));
    expect(await join(root)).toEqual(['10.9.0.13/32', 'fd09::d/128']);
  });

  it('an index from another validator version is rebuilt, not used', async () => {
    const root = await fixture();
    await join(root); // .12
    const head = await readHead(root);
    await rewriteDerived(root, 'peers/head.json', JSON.stringify({ ...head, validator: `0|${head.validator}` }));
    expect(await join(root)).toEqual(['10.9.0.13/32', 'fd09::d/128']);
    expect((await readHead(root)).validator).toBe(head.validator);
  });

  it('an edited infra.yml is honoured: an address reserved since the index was written is not handed out', async () => {
    const root = await fixture();
    await join(root); // .12
    const file = path.join(root, 'infra.yml');
    // reserve the next address: an index keyed to the old infra.yml would hand it out
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('- 10.9.0.1\n', '- 10.9.0.1\n      - 10.9.0.13\n'));
    expect(await fs.readFile(file, 'utf8')).toContain('10.9.0.13');
    expect(await join(root)).toEqual(['10.9.0.14/32', 'fd09::d/128']);
  });

  it("refuses another member's WireGuard key through the index, naming its device", async () => {
    const root = await fixture();
    await join(root); // index written
    const err = await rejection(joinVpn(testContext({ root, json: true }), { handle: 'a', device: 'dup', publicKey: peer('d1', 9).public_key }));
    expect(err.message).toBe('--public-key is already used by d/d1 (network meet): every device needs its own key');
    expect(await fs.readFile(path.join(root, 'keys/a/member.yml'), 'utf8')).not.toContain('dup');
  });

  it('a registry whose only problem lies between files may still be joined; no index describes it', async () => {
    const root = await fixture();
    const file = path.join(root, 'keys/e/member.yml');
    // e's second device takes d's address .9 as well: a problem between two files
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('10.9.0.11/32', '10.9.0.9/32').replace('fd09::b/128', 'fd09::9/128'));
    expect(await join(root)).toEqual(['10.9.0.11/32', 'fd09::b/128']);
    await expect(fs.access(await derivedFile(root, 'peers/head.json'))).rejects.toThrow();
    expect(await join(root)).toEqual(['10.9.0.12/32', 'fd09::c/128']);
  });

  it('INFRA_CACHE_MIN_MEMBERS=-1 writes no index', async () => {
    const root = await fixture();
    await join(root); // index written
    const shard = path.join(await peersDir(root), (await shardFiles(root))[0]);
    process.env.INFRA_CACHE_MIN_MEMBERS = '-1';
    const before = await statOf(shard);
    await fs.appendFile(path.join(root, 'keys/b/member.yml'), `  - device: byhand\n    network: meet\n    public_key: ${wgKey('byhand-x')}\n    addresses: [10.9.0.13/32, "fd09::d/128"]\n    added: 2026-01-01\n`);
    expect(await join(root)).toEqual(['10.9.0.14/32', 'fd09::e/128']);
    expect(await statOf(shard)).toBe(before);
  });

  it('a member added since the index was written is read, and its join gets the next address', async () => {
    const root = await fixture();
    await join(root); // .12
    await fs.mkdir(path.join(root, 'keys/f'));
    await fs.writeFile(path.join(root, 'keys/f/member.yml'), stringify(memberData('f')));
    expect(await join(root, 'f')).toEqual(['10.9.0.13/32', 'fd09::d/128']);
    expect(await join(root, 'f')).toEqual(['10.9.0.14/32', 'fd09::e/128']);
  });
});
