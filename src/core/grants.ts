/**
 * Who reaches which host as which remote user: infra.yml's grants resolved over the inventories.
 * Pure: the inventories come in parsed, the clock never matters (expiry is sshd's job, via expiry-time).
 *
 * A member's key reaches host/user when the member is active, is in one of a grant's groups, the grant
 * covers the environment, its host pattern selects the host, and the key passes the SSH policy.
 * Keys that would reach a host but may not (departed member, failing policy) are the host's revoked keys.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { resolvePattern } from './host-pattern.js';
import type { Inventory } from './inventory.js';
import { keyParser, type KeySummary, type ParseKey } from './key-summary.js';
import { policyProblems } from './ssh-key.js';
import type { Grant, InfraConfig, Member, SshKeyEntry } from './types.js';
import { ownValue } from './dict.js';

/** Why a key that a grant selects grants nothing. */
export type RevokeReason = 'departed' | 'policy';

export interface KeyRef {
  member: string;
  keyName: string;
  key: SshKeyEntry;
  parsed: KeySummary;
}

export interface GrantedKey extends KeyRef {
  vpnOnly: boolean;
}

export interface RevokedRef extends KeyRef {
  reason: RevokeReason;
}

/**
 * One remote user on one host: the keys granted there and the keys that would be but may not.
 * Read-only: planAccess hands the same object to every host/user that the same grants select.
 */
export interface UserAccess {
  granted: GrantedKey[]; // sorted by member, keyName; one per key blob
  revoked: RevokedRef[]; // sorted by member, keyName; never a blob that is granted here
}

/** environment -> host -> remote user -> access. Hosts and users appear when some grant selects them, even with no member. */
export type AccessPlan = Map<string, Map<string, Map<string, UserAccess>>>;

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The environments in a stable order: the names sorted. */
export function environmentNames(config: InfraConfig): string[] {
  return Object.keys(config.environments).sort(byText);
}

export function grantCoversEnvironment(grant: Grant, environment: string): boolean {
  return !grant.environments || grant.environments.includes(environment);
}

/** Hosts a pattern selects in one inventory; names the inventory does not have select nothing (check reports them). */
export function hostsOf(pattern: string, inventory: Inventory): string[] {
  return resolvePattern(pattern, inventory, { strict: false });
}

/** The inventory of an environment; an environment named `constructor` is looked up like any other. */
export function inventoryOf(inventories: Readonly<Record<string, Inventory>>, environment: string): Inventory {
  const inv = ownValue(inventories, environment);
  if (!inv)
    throw new InfraError(ExitCode.invalid, `no inventory loaded for environment "${environment}"`, {
      hint: 'run `infra check` to see which inventory folder is missing or broken',
    });
  return inv;
}

interface Candidate extends KeyRef {
  verdict: 'ok' | RevokeReason;
}

/** Each grant's member keys, parsed (or looked up) and judged once, when that grant is first needed. */
function candidatesOf(config: InfraConfig, members: readonly Member[], parseKey: ParseKey): (index: number) => Candidate[] {
  const judged = new Map<SshKeyEntry, { parsed: KeySummary; passes: boolean }>();
  const judge = (k: SshKeyEntry) => {
    let hit = judged.get(k);
    if (!hit) {
      const parsed = parseKey(k.key);
      hit = { parsed, passes: policyProblems(parsed, config.policy.ssh).length === 0 };
      judged.set(k, hit);
    }
    return hit;
  };
  const made: Candidate[][] = [];
  return (index) => (made[index] ??= candidatesOfGrant(config.access[index]));
  function candidatesOfGrant(grant: Grant): Candidate[] {
    const groups = new Set(grant.groups);
    const out: Candidate[] = [];
    for (const m of members) {
      if (!m.groups.some((g) => groups.has(g))) continue;
      for (const k of m.ssh_keys) {
        const { parsed, passes } = judge(k);
        const verdict = m.status !== 'active' ? 'departed' : passes ? 'ok' : 'policy';
        out.push({ member: m.handle, keyName: k.name, key: k, parsed, verdict });
      }
    }
    return out;
  }
}

const refOrder = (a: KeyRef, b: KeyRef) => byText(a.member, b.member) || byText(a.keyName, b.keyName);

/**
 * The whole access picture, per environment, host and remote user. Only the environments that
 * `inventories` holds are resolved (so `render --env E` needs only E's inventory). `parseKey` gives each
 * key's summary (default: parse it); the load hands one answering from what it already parsed.
 */
export function planAccess(
  config: InfraConfig,
  members: readonly Member[],
  inventories: Record<string, Inventory>,
  environments?: readonly string[],
  parseKey: ParseKey = keyParser(),
): AccessPlan {
  const candidates = candidatesOf(config, members, parseKey);
  const plan: AccessPlan = new Map();
  // Hosts that the same grants select share one UserAccess: thousands of hosts fall into a few dozen sets,
  // and a render makes each set's text once (render.ts keys its cache on the object).
  const shared = new Map<string, UserAccess>();
  for (const environment of environments ?? environmentNames(config)) {
    const inventory = inventoryOf(inventories, environment);
    // host -> user -> indexes of the grants that select it
    const targets = new Map<string, Map<string, number[]>>();
    config.access.forEach((grant, index) => {
      if (!grantCoversEnvironment(grant, environment)) return;
      for (const host of hostsOf(grant.hosts, inventory)) {
        let users = targets.get(host);
        if (!users) targets.set(host, (users = new Map()));
        const list = users.get(grant.user);
        if (list) list.push(index);
        else users.set(grant.user, [index]);
      }
    });
    const hosts = new Map<string, Map<string, UserAccess>>();
    for (const host of [...targets.keys()].sort(byText)) {
      const users = new Map<string, UserAccess>();
      const byUser = targets.get(host)!;
      for (const user of [...byUser.keys()].sort(byText)) {
        const indexes = byUser.get(user)!;
        const key = indexes.join(',');
        let access = shared.get(key);
        if (!access) shared.set(key, (access = lazyAccess(() => userAccess(config, indexes, candidates))));
        users.set(user, access);
      }
      hosts.set(host, users);
    }
    plan.set(environment, hosts);
  }
  return plan;
}

/**
 * A UserAccess made when first read. Parsing every key up front cost 0.5 s at 10,000 members before render
 * wrote its first file; made on demand, it runs while earlier files are being written.
 */
function lazyAccess(make: () => UserAccess): UserAccess {
  let made: UserAccess | undefined;
  return {
    get granted() {
      return (made ??= make()).granted;
    },
    get revoked() {
      return (made ??= make()).revoked;
    },
  };
}

function userAccess(config: InfraConfig, grantIndexes: number[], candidates: (index: number) => Candidate[]): UserAccess {
  const granted = new Map<string, GrantedKey>(); // by blob
  const revoked = new Map<string, RevokedRef>();
  for (const index of grantIndexes) {
    const vpnOnly = config.access[index].vpn_only === true;
    for (const c of candidates(index)) {
      const blob = c.parsed.base64;
      if (c.verdict !== 'ok') {
        const seen = revoked.get(blob);
        if (!seen || refOrder(c, seen) < 0) revoked.set(blob, { member: c.member, keyName: c.keyName, key: c.key, parsed: c.parsed, reason: c.verdict });
        continue;
      }
      const seen = granted.get(blob);
      if (!seen) granted.set(blob, { member: c.member, keyName: c.keyName, key: c.key, parsed: c.parsed, vpnOnly });
      else {
        // Restricted only when every grant giving the key here is vpn_only.
        seen.vpnOnly = seen.vpnOnly && vpnOnly;
        if (refOrder(c, seen) < 0) Object.assign(seen, { member: c.member, keyName: c.keyName, key: c.key, parsed: c.parsed });
      }
    }
  }
  for (const blob of granted.keys()) revoked.delete(blob);
  return { granted: [...granted.values()].sort(refOrder), revoked: [...revoked.values()].sort(refOrder) };
}

export interface Reach {
  environment: string;
  host: string;
  user: string;
  keys: string[]; // key names, sorted
  vpnOnly: boolean; // every key reaches it only from the VPN
}

/** Where one member gets in, for `infra members show`. A departed member reaches nothing. */
export function hostsReachedBy(handle: string, config: InfraConfig, members: readonly Member[], inventories: Record<string, Inventory>): Reach[] {
  const member = members.find((m) => m.handle === handle);
  if (!member) return [];
  const out: Reach[] = [];
  for (const [environment, hosts] of planAccess(config, [member], inventories))
    for (const [host, users] of hosts)
      for (const [user, access] of users) {
        if (!access.granted.length) continue;
        out.push({ environment, host, user, keys: access.granted.map((g) => g.keyName).sort(byText), vpnOnly: access.granted.every((g) => g.vpnOnly) });
      }
  return out;
}
