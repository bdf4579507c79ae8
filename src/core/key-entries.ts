/**
 * Turning parsed public keys into member.yml entries: names, duplicates, policy. Pure.
 */
import type { Member, SshKeyEntry, SshPolicy } from './types.js';
import { NAME_RE } from './types.js';
import { canonicalKeyData, parsePublicKey, policyProblems, safeComment, type PublicKey } from './ssh-key.js';

export interface Candidate {
  key: PublicKey;
  source?: string;
  expires?: string;
  suggestedName?: string;
}

export type Verdict =
  | { kind: 'add'; entry: SshKeyEntry; key: PublicKey }
  | { kind: 'present'; key: PublicKey; existing: string }
  | { kind: 'refused'; key: PublicKey; problems: string[] };

/** A readable, unique key name: the explicit one, else from the comment (user@laptop -> laptop), else type-N. */
export function keyName(candidate: Candidate, taken: Set<string>, explicit?: string): string {
  if (explicit) return explicit;
  const fromComment = candidate.suggestedName ?? safeComment(candidate.key.comment).split('@').pop()!.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-._]+|[-._]+$/g, '');
  let base = NAME_RE.test(fromComment) ? fromComment.slice(0, 56) : candidate.key.family;
  if (!NAME_RE.test(base)) base = 'key';
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  return name;
}

/**
 * The blob's owner across the registry, by canonical base64: a key written with padded integers is the
 * same key (sshd lets the same private key in), so it has the same owner. The first entry wins.
 */
export function keyOwners(members: readonly Member[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const m of members)
    for (const k of m.ssh_keys) {
      const data = canonicalKeyData(k.key);
      if (!owners.has(data)) owners.set(data, `${m.handle}/${k.name}`);
    }
  return owners;
}

/**
 * Decide, per candidate, whether it is added, already present (skipped), or refused (policy,
 * another principal's key). `today` is the `added` date.
 */
export function planKeyAdds(member: Member, members: readonly Member[], candidates: Candidate[], policy: SshPolicy, today: string, explicitName?: string): Verdict[] {
  const owners = keyOwners(members);
  const taken = new Set(member.ssh_keys.map((k) => k.name));
  const out: Verdict[] = [];
  for (const c of candidates) {
    const owner = owners.get(c.key.base64);
    if (owner?.startsWith(`${member.handle}/`)) {
      out.push({ kind: 'present', key: c.key, existing: owner });
      continue;
    }
    const problems = policyProblems(c.key, policy);
    if (owner) problems.push(`the same key is already registered as ${owner}: one key belongs to one principal`);
    if (problems.length) {
      out.push({ kind: 'refused', key: c.key, problems });
      continue;
    }
    const name = keyName(c, taken, candidates.length === 1 ? explicitName : undefined);
    if (taken.has(name)) {
      out.push({ kind: 'refused', key: c.key, problems: [`${member.handle} already has a key named "${name}": pass another --name`] });
      continue;
    }
    taken.add(name);
    owners.set(c.key.base64, `${member.handle}/${name}`);
    const comment = safeComment(c.key.comment);
    out.push({
      kind: 'add',
      key: c.key,
      entry: {
        name,
        key: `${c.key.type} ${c.key.base64}${comment ? ` ${comment}` : ''}`,
        added: today,
        ...(c.expires ? { expires: c.expires } : {}),
        ...(c.source ? { source: c.source } : {}),
      },
    });
  }
  return out;
}

/** Find a member's key by name or by SHA256 fingerprint (of the canonical blob, as ssh-keygen prints it). */
export function findKey(member: Member, ref: string): number {
  const byName = member.ssh_keys.findIndex((k) => k.name === ref);
  if (byName >= 0) return byName;
  const fingerprint = ref.startsWith('SHA256:') ? ref : `SHA256:${ref}`;
  return member.ssh_keys.findIndex((k) => parsePublicKey(k.key).fingerprint === fingerprint);
}
