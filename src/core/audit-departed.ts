/**
 * departed-access (docs/reference.md, "infra audit"): where a departed member's keys and peers still are —
 * rendered files, live hosts, WireGuard dumps — gathered from every source, then one finding per key or peer.
 */
import { applyCommand, byText, decode, finding, type KeyReader } from './audit-common.js';
import { environmentNames } from './grants.js';
import type { InfraConfig, Member } from './types.js';
import type { Finding } from './vpn-plan.js';

/** Where a departed member's keys and peers still are: rendered files, live hosts, WireGuard dumps. */
export class DepartedPlaces {
  readonly keys = new Map<string, { subject: string; handle: string; departed?: string }>(); // fingerprint -> owner
  readonly blobs = new Map<string, string>(); // base64 -> fingerprint
  readonly peers = new Map<string, { subject: string; handle: string; departed?: string; network: string }>(); // wg public key -> owner
  readonly places = new Map<string, { kind: 'key' | 'peer'; subject: string; handle: string; departed?: string; where: Set<string>; folders: Set<string>; networks: Set<string> }>();

  constructor(members: readonly Member[], readKey: KeyReader) {
    for (const m of members) {
      if (m.status !== 'departed') continue;
      for (const k of m.ssh_keys) {
        const parsed = readKey(k);
        if (!parsed) continue;
        this.keys.set(parsed.fingerprint, { subject: `${m.handle}/${k.name}`, handle: m.handle, departed: m.departed });
        this.blobs.set(parsed.base64, parsed.fingerprint);
      }
      for (const p of m.vpn_peers) this.peers.set(p.public_key, { subject: `${m.handle}/${p.device}`, handle: m.handle, departed: m.departed, network: p.network });
    }
  }

  private note(kind: 'key' | 'peer', owner: { subject: string; handle: string; departed?: string }, where: string, extra: { folder?: string; network?: string } = {}): void {
    const id = `${kind}:${owner.subject}`;
    let p = this.places.get(id);
    if (!p) this.places.set(id, (p = { kind, ...owner, where: new Set(), folders: new Set(), networks: new Set() }));
    p.where.add(where);
    if (extra.folder) p.folders.add(extra.folder);
    if (extra.network) p.networks.add(extra.network);
  }

  keyAt(fingerprint: string, where: string, folder: string): boolean {
    const owner = this.keys.get(fingerprint);
    if (owner) this.note('key', owner, where, { folder });
    return !!owner;
  }

  peerAt(publicKey: string, where: string): boolean {
    const owner = this.peers.get(publicKey);
    if (owner) this.note('peer', owner, where, { network: owner.network });
    return !!owner;
  }

  /** Departed keys listed under infra_authorized_keys, departed peers under infra_wireguard_peers. */
  scanRendered(rendered: ReadonlyMap<string, string | Uint8Array>, prefixes: ReadonlyMap<string, string>): void {
    if (this.keys.size === 0 && this.peers.size === 0) return;
    for (const [p, content] of rendered) {
      const folder = [...prefixes].find(([prefix]) => p.startsWith(prefix))?.[1];
      if (folder === undefined) continue;
      const { authorized, peers } = grantingSections(decode(content));
      for (const blob of base64Words(authorized)) {
        const fingerprint = this.blobs.get(blob);
        if (fingerprint) this.keyAt(fingerprint, `${p} (infra_authorized_keys)`, folder);
      }
      for (const key of base64Words(peers)) if (this.peers.has(key)) this.peerAt(key, `${p} (infra_wireguard_peers)`);
    }
  }

  findings(config: InfraConfig | undefined): Finding[] {
    const out: Finding[] = [];
    for (const p of this.places.values()) {
      const since = p.departed ? ` departed on ${p.departed}, but` : ' departed, but';
      const what = p.kind === 'key' ? `their key ${p.subject}` : `their device ${p.subject}`;
      const apply =
        p.kind === 'key'
          ? [...(p.folders.size ? p.folders : new Set(config ? environmentNames(config).map((e) => config.environments[e]) : ['inventories/ENV']))]
              .sort(byText)
              .map((f) => `\`${applyCommand(f, undefined, 'ssh')}\``)
              .join(' and ')
          : `ansible/wireguard.yml on the ${[...p.networks].sort(byText).join(', ')} servers`;
      out.push(finding('departed-access', p.subject, `${p.handle}${since} ${what} is still in: ${[...p.where].sort(byText).join('; ')}`, `infra render, then apply it: ${apply}`));
    }
    return out;
  }
}

/** Every run of base64 long enough to be a key (a WireGuard key is 44 characters, an SSH key blob more). */
function base64Words(text: string): Set<string> {
  return new Set(text.match(/[A-Za-z0-9+/]{40,}={0,2}/g) ?? []);
}

/**
 * The text of the two sections of a generated file that grant something. Line-based: a top-level key
 * starts a section; a departed key's base64 or a peer's public key is looked for within it (both are
 * plain base64, which YAML never escapes or folds).
 */
function grantingSections(text: string): { authorized: string; peers: string } {
  const parts: Record<string, string[]> = {};
  let current = '';
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (!/^[\s-]/.test(line)) current = /^['"]?([A-Za-z0-9_]+)/.exec(line)?.[1] ?? '';
    (parts[current] ??= []).push(line);
  }
  return { authorized: (parts.infra_authorized_keys ?? []).join('\n'), peers: (parts.infra_wireguard_peers ?? []).join('\n') };
}
