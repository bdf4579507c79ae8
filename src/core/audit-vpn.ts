/**
 * The audit's judgements of the VPN (docs/reference.md, "infra audit"): vpn-address-conflict from the registry,
 * and unknown-peer, idle-peer and departed peers from a `wg show all dump`.
 */
import { shellCommand } from '../lib/shell-quote.js';
import { sortFindings, type DumpSource } from './audit.js';
import { otherReadings, type Reading } from './address-readings.js';
import { byText, finding, keyReader, plural } from './audit-common.js';
import { DepartedPlaces } from './audit-departed.js';
import { dateOfEpochSeconds, daysBetween } from './dates.js';
import { cidrContains, cidrEnd, formatAddress, parseAddress, parseCidr, type Address, type Cidr } from './ip-alloc.js';
import { keyParser } from './key-summary.js';
import { DEFAULT_POLICY, type InfraConfig, type IsoDate, type Member, type Policy } from './types.js';
import { vpnStatus, type Finding } from './vpn-plan.js';

/** A peer of a member.yml that does not load (read leniently, see core/changes.ts readSnapshot): its addresses still count. */
export interface UnloadedPeer {
  handle: string;
  device: string;
  network: string;
  addresses: readonly string[];
}

export function addressFindings(config: InfraConfig, members: readonly Member[], unloaded: readonly UnloadedPeer[] = []): Finding[] {
  const out: Finding[] = [];
  const holders = new Map<string, { text: string; network: string; owners: string[] }>();
  // Addresses written in a form another tool reads as a different (or the same) address: compared once all are known.
  const loose: Array<{ owner: string; handle: string; device: string; network: string; text: string; reading: Reading; unloaded?: boolean }> = [];
  const readdress = (handle: string, device: string, network: string) =>
    `${shellCommand(['infra', 'vpn', 'leave', handle, '--device', device, '--network', network])}, then \`${shellCommand(['infra', 'vpn', 'join', handle, '--device', device, '--network', network])}\` (a new key and a free address)`;
  for (const net of Object.values(config.vpn)) {
    const ranges = new Map<4 | 6, Cidr>();
    for (const r of [net.ipv4, net.ipv6]) {
      if (r === undefined) continue;
      try {
        const c = parseCidr(r, { strict: false });
        ranges.set(c.family, c);
      } catch {
        // infra.yml's own problem, reported by validation
      }
    }
    const reserved: Address[] = [];
    for (const r of net.reserved) {
      try {
        reserved.push(parseAddress(r.split('/')[0]));
      } catch {
        // reported by validation
      }
    }
    for (const m of members)
      for (const p of m.vpn_peers) {
        if (p.network !== net.name) continue;
        const owner = `${m.handle}/${p.device}`;
        for (const text of p.addresses) {
          for (const reading of otherReadings(text)) loose.push({ owner, handle: m.handle, device: p.device, network: net.name, text, reading });
          let a: Address;
          try {
            a = parseAddress(text.split('/')[0]);
          } catch {
            continue; // not an address as infra reads it (validation says so); its other readings are compared below
          }
          const normal = formatAddress(a.family, a.value);
          const subject = `${net.name}/${normal}`;
          const bad = (why: string) => out.push(finding('vpn-address-conflict', subject, `${owner} holds ${text}, ${why}`, readdress(m.handle, p.device, net.name)));
          const range = ranges.get(a.family);
          if (!range || !cidrContains(range, a)) bad(`outside network ${net.name} (${range ? formatAddress(range.family, range.network) + '/' + range.prefix : `no IPv${a.family} range`})`);
          else if (range.bits - range.prefix > 1 && a.value === range.network) bad(`the network address of ${net.name}`);
          else if (a.family === 4 && range.bits - range.prefix > 1 && a.value === cidrEnd(range)) bad(`the broadcast address of ${net.name}`);
          else if (reserved.some((r) => r.family === a.family && r.value === a.value)) bad(`reserved in ${net.name} (the server's own address)`);
          const key = `${net.name}|${a.family}|${a.value}`;
          const seen = holders.get(key);
          if (seen) seen.owners.push(owner);
          else holders.set(key, { text: normal, network: net.name, owners: [owner] });
        }
      }
  }
  for (const h of holders.values()) {
    const owners = [...new Set(h.owners)].sort(byText);
    if (owners.length < 2) continue;
    const [handle, device] = owners[1].split('/');
    out.push(finding('vpn-address-conflict', `${h.network}/${h.text}`, `${owners.join(' and ')} share the address ${h.text} (compared as addresses, not text)`, readdress(handle, device, h.network)));
  }
  // A member.yml that does not load (an address in another form is one reason) still holds its addresses.
  for (const u of unloaded)
    for (const text of u.addresses) {
      const at = { owner: `${u.handle}/${u.device}`, handle: u.handle, device: u.device, network: u.network, text, unloaded: true };
      try {
        const a = parseAddress(text.split('/')[0].trim());
        const same = formatAddress(a.family, a.value) === text.split('/')[0].trim();
        loose.push({ ...at, reading: { address: a, how: same ? 'as written' : 'the same address written another way' } });
      } catch {
        // not an address as infra reads it; its other readings below
      }
      for (const reading of otherReadings(text)) loose.push({ ...at, reading });
    }
  for (const l of loose) {
    const { family, value } = l.reading.address;
    const others = (holders.get(`${l.network}|${family}|${value}`)?.owners ?? []).filter((o) => o !== l.owner);
    if (!others.length) continue;
    const normal = formatAddress(family, value);
    out.push(
      finding(
        'vpn-address-conflict',
        `${l.network}/${normal}`,
        `${l.owner} holds ${l.text}, which is ${normal} (${l.reading.how}): the address of ${[...new Set(others)].sort(byText).join(' and ')}${l.unloaded ? ` (keys/${l.handle}/member.yml does not load; see its invalid-registry findings)` : ''}`,
        l.unloaded
          ? `in keys/${l.handle}/member.yml, remove the vpn_peers entry of device ${l.device} (network ${l.network}) until \`infra check\` passes, then \`${shellCommand(['infra', 'vpn', 'join', l.handle, '--device', l.device, '--network', l.network])}\` (a new key and a free address)`
          : readdress(l.handle, l.device, l.network),
      ),
    );
  }
  return out;
}


/**
 * unknown-peer, idle-peer and departed-access from one `wg show all dump` (shared with `infra vpn status`):
 * a peer is idle when its last handshake (or, never having one, its enrolment) is idle_days or more before asOf.
 */
export function vpnDumpFindings(source: DumpSource, config: InfraConfig | undefined, members: readonly Member[], asOf: IsoDate): Finding[] {
  const departed = new DepartedPlaces(members, keyReader(keyParser()));
  const out = dumpFindings(source, config, members, config?.policy ?? DEFAULT_POLICY, asOf, departed);
  return sortFindings([...out, ...departed.findings(config)]);
}

export function dumpFindings(source: DumpSource, config: InfraConfig | undefined, members: readonly Member[], policy: Policy, asOf: IsoDate, departed: DepartedPlaces): Finding[] {
  const idleDays = policy.vpn?.idle_days ?? DEFAULT_POLICY.vpn!.idle_days;
  const nowSeconds = Date.parse(`${asOf}T00:00:00Z`) / 1000;
  const status = vpnStatus(source.dump, { root: '', config: config ?? { org: '', admins: [], environments: {}, policy, access: [], vpn: {} }, members: [...members] }, nowSeconds);
  const on = source.source ? ` on ${source.source}` : '';
  const prefix = source.source ? `${source.source}:` : '';
  const out: Finding[] = status.findings.filter((f) => f.code === 'unknown-peer').map((f) => ({ ...f, subject: `${prefix}${f.subject}`, detail: `${f.detail}${on}` }));
  const added = new Map<string, string>();
  for (const m of members) for (const p of m.vpn_peers) added.set(p.public_key, p.added);
  for (const p of status.peers) {
    if (p.member_status === 'departed') {
      departed.peerAt(p.public_key, `the WireGuard dump${on} (interface ${p.interface}, last handshake ${p.handshake})`);
      continue;
    }
    const last = p.latest_handshake === null ? undefined : dateOfEpochSeconds(p.latest_handshake);
    const since = last ?? added.get(p.public_key)!;
    const idle = daysBetween(since, asOf);
    if (idle < idleDays) continue;
    out.push(
      finding(
        'idle-peer',
        `${p.member}/${p.device}`,
        `${last ? `last handshake on ${last}` : `no handshake since it was enrolled on ${since}`}, ${plural(idle, 'day')} ago${on} (policy: ${idleDays})`,
        `if the device is gone: ${shellCommand(['infra', 'vpn', 'leave', p.member, '--device', p.device, '--network', p.network])}`,
      ),
    );
  }
  return out;
}
