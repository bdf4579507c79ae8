/**
 * A granted key as rendered against the same key as a host holds it (docs/reference.md, "--live: what it
 * runs"): type, blob and every option compared as sshd reads them, not as text. The answer is the list of
 * differences in words, empty when sshd would treat both lines alike.
 *
 * What "as sshd reads them" means here (auth-options.c): option names are case-insensitive; a flag is on
 * or off (its place in the list does not matter); `restrict` turns every capability off and `pty`,
 * `port-forwarding`, ... turn one back on, so flags are compared by their effect; `from=` is a list of
 * patterns sshd tries in any order, so it is compared as a set; `expiry-time=` as the instant it names;
 * `environment=`, `permitopen=`, `permitlisten=` as sets; `command=`, `principals=`, `tunnel=` as written.
 */
import type { AuthorizedKey, KeyOption } from './authorized-keys.js';

/** Capabilities `restrict` turns off, each with the flag that turns it back on and the one that turns it off. */
const CAPABILITIES: ReadonlyArray<{ on: string; off: string }> = [
  { on: 'pty', off: 'no-pty' },
  { on: 'port-forwarding', off: 'no-port-forwarding' },
  { on: 'agent-forwarding', off: 'no-agent-forwarding' },
  { on: 'x11-forwarding', off: 'no-x11-forwarding' },
  { on: 'user-rc', off: 'no-user-rc' },
];
/** Flags with no opposite: present or not. */
const PLAIN_FLAGS = ['cert-authority', 'no-touch-required', 'verify-required'] as const;
const SET_VALUED = ['from', 'environment', 'permitopen', 'permitlisten'] as const;
const SINGLE_VALUED = ['command', 'principals', 'tunnel', 'expiry-time'] as const;

/** The effect of one line's options, in a shape two lines can be compared by. */
interface Effect {
  capabilities: Map<string, boolean>; // capability -> allowed
  flags: Set<string>;
  sets: Map<string, Set<string>>;
  singles: Map<string, string>;
  unknown: Set<string>; // options this comparison does not model: compared as written
}

/** expiry-time="YYYYMMDD[HHMM[SS]]" as sshd reads it (a missing time is midnight), so both spellings compare equal. */
function expiryInstant(value: string): string {
  return /^\d{8}(\d{4}(\d{2})?)?$/.test(value) ? value.padEnd(14, '0') : value;
}

function effectOf(options: readonly KeyOption[]): Effect {
  const restricted = options.some((o) => o.name === 'restrict');
  const e: Effect = { capabilities: new Map(CAPABILITIES.map((c) => [c.on, !restricted])), flags: new Set(), sets: new Map(), singles: new Map(), unknown: new Set() };
  for (const o of options) {
    const cap = CAPABILITIES.find((c) => c.on === o.name || c.off === o.name);
    if (o.name === 'restrict') continue;
    if (cap) e.capabilities.set(cap.on, cap.on === o.name);
    else if ((PLAIN_FLAGS as readonly string[]).includes(o.name)) e.flags.add(o.name);
    else if ((SET_VALUED as readonly string[]).includes(o.name)) {
      const values = o.name === 'from' ? (o.value ?? '').split(',').map((p) => p.trim().toLowerCase()) : [o.value ?? ''];
      const set = e.sets.get(o.name) ?? new Set<string>();
      for (const v of values) set.add(v);
      e.sets.set(o.name, set);
    } else if ((SINGLE_VALUED as readonly string[]).includes(o.name)) e.singles.set(o.name, o.name === 'expiry-time' ? expiryInstant(o.value ?? '') : (o.value ?? ''));
    else e.unknown.add(o.value === undefined ? o.name : `${o.name}="${o.value}"`);
  }
  return e;
}

const shown = (name: string, value: string) => `${name}="${value}"`;
const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size === b.size && [...a].every((v) => b.has(v));
const listed = (s: ReadonlySet<string>) => [...s].sort().join(',');

/**
 * How the host's line differs from the rendered one, in words ("from= removed (rendered from=\"10.8.0.0/24\")",
 * "cert-authority added"); empty when sshd would read both alike. The key itself (type and blob) is compared
 * first: a different key is one difference and nothing else is said.
 */
export function keyLineDifferences(rendered: AuthorizedKey, onHost: AuthorizedKey): string[] {
  if (rendered.blob !== onHost.blob) return ['a different key'];
  const out: string[] = [];
  if (rendered.type !== onHost.type) out.push(`key type ${onHost.type} (rendered ${rendered.type})`);
  const want = effectOf(rendered.options);
  const have = effectOf(onHost.options);
  for (const { on } of CAPABILITIES) {
    const w = want.capabilities.get(on)!;
    const h = have.capabilities.get(on)!;
    if (w !== h) out.push(h ? `${on} allowed (rendered: not allowed)` : `${on} not allowed (rendered: allowed)`);
  }
  for (const f of PLAIN_FLAGS) {
    if (have.flags.has(f) && !want.flags.has(f)) out.push(`${f} added`);
    if (!have.flags.has(f) && want.flags.has(f)) out.push(`${f} removed`);
  }
  for (const name of SET_VALUED) {
    const w = want.sets.get(name);
    const h = have.sets.get(name);
    if (!w && !h) continue;
    if (!h) out.push(`${name}= removed (rendered ${shown(name, listed(w!))})`);
    else if (!w) out.push(`${name}= added: ${[...h].sort().map((v) => shown(name, v)).join(', ')}`);
    else if (!sameSet(w, h)) out.push(`${name}= changed to ${shown(name, listed(h))} (rendered ${shown(name, listed(w))})`);
  }
  for (const name of SINGLE_VALUED) {
    const w = want.singles.get(name);
    const h = have.singles.get(name);
    if (w === h) continue;
    if (h === undefined) out.push(`${name}= removed (rendered ${shown(name, w!)})`);
    else if (w === undefined) out.push(`${name}= added: ${shown(name, h)}`);
    else out.push(`${name}= changed to ${shown(name, h)} (rendered ${shown(name, w)})`);
  }
  for (const u of have.unknown) if (!want.unknown.has(u)) out.push(`${u} added`);
  for (const u of want.unknown) if (!have.unknown.has(u)) out.push(`${u} removed`);
  return out;
}
