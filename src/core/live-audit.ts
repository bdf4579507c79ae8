/**
 * `infra audit --live` findings (docs/reference.md, "--live: what it runs"): what each host's sshd trusts,
 * judged against the access plan. Pure: the hosts' answers come in as data (LiveHost).
 *
 * Per host and granted user:
 * - the FIRST file AuthorizedKeysFile names is the managed file (the apply playbook writes the user's keys
 *   there): a key the registry does not grant there is unknown-key, a granted key whose options differ from
 *   the rendered line is altered-key, a granted key absent is missing-key;
 * - every OTHER file it names (`.ssh/authorized_keys2` by OpenSSH's default) should hold nothing: any key
 *   there is unmanaged-auth, and so are an AuthorizedKeysCommand, an AuthorizedPrincipalsCommand and a
 *   TrustedUserCAKeys CA that is not one of the registry's (ca/*.pub);
 * - a departed member's key anywhere is departed-access (the caller's tally);
 * - lines sshd skips grant nothing: they are counted in the progress line, not reported.
 * Per host: settings that break policy.ssh.host are host-sshd-policy, one finding per setting.
 */
import { parseAuthorizedKeys, type AuthorizedKey } from './authorized-keys.js';
import type { AccessPlan, GrantedKey, UserAccess } from './grants.js';
import { formatAddress, hostRange, parseCidr } from './ip-alloc.js';
import { keyLineDifferences } from './key-line-diff.js';
import { OUTSIDE_ADDRESS, type SshdAnswer, type SshdFile, type SshdUser } from './live-collect.js';
import { authorizedLine, vpnRangesOf } from './render.js';
import { fingerprintOf } from './ssh-key.js';
import { DEFAULT_SSH_HOST_POLICY, policyBreaches } from './sshd-policy.js';
import type { InfraConfig } from './types.js';
import type { Finding } from './vpn-plan.js';
import { shellCommand, shellQuote } from '../lib/shell-quote.js';

export const LIVE_SEVERITY = {
  'unknown-key': 'high',
  'missing-key': 'medium',
  'unreachable-host': 'medium',
  'unmanaged-auth': 'high',
  'altered-key': 'high',
  'host-sshd-policy': 'medium',
  'unknown-ca': 'high',
} as const;
type LiveCode = keyof typeof LIVE_SEVERITY;

/** One host's answer, as the collector read it (or the older shape: just each user's authorized_keys). */
export interface LiveHostAnswer {
  environment: string;
  host: string;
  unreachable?: string;
  authorizedKeys?: Readonly<Record<string, string | null>>;
  userErrors?: Readonly<Record<string, string>>;
  sshd?: SshdAnswer;
}

export interface LiveAuditInput {
  live: readonly LiveHostAnswer[];
  config: InfraConfig;
  plan: AccessPlan;
  /** environment -> the inventory folder the apply command names */
  folderOf: (environment: string) => string;
  /** canonical base64 -> member/key, for the detail of keys granted elsewhere */
  owners: ReadonlyMap<string, string>;
  /** Notes a departed member's key (by canonical base64) at a place; true when the key is a departed member's. */
  departedAt: (base64: string, where: string, folder: string) => boolean;
  /** The registry's user CAs (ca/*.pub), canonical base64: a TrustedUserCAKeys line holding one of them is managed. */
  registryUserCAs?: readonly string[];
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const make = (code: LiveCode, subject: string, detail: string, fix: string): Finding => ({ code, severity: LIVE_SEVERITY[code], subject, detail, fix });
const fingerprint = (base64: string) => fingerprintOf(Buffer.from(base64, 'base64'));

/** The older answer (authorized_keys text per user) as the sshd answer it stands for: one managed file, no settings. */
function asSshd(h: LiveHostAnswer): SshdAnswer | undefined {
  if (h.sshd) return h.sshd;
  if (!h.authorizedKeys) return undefined;
  const users: Record<string, SshdUser> = {};
  for (const [user, text] of Object.entries(h.authorizedKeys))
    users[user] = { view: { ok: true, settings: {} }, exists: true, files: [{ kind: 'keys', path: `~${user}/.ssh/authorized_keys`, ...(text === null ? { state: 'absent' } : { state: 'ok', text }) }] };
  return { hostView: { ok: true, settings: {} }, users };
}

/** The rendered line of a granted key, parsed; undefined when render itself would refuse it (reported elsewhere). */
function renderedKey(g: GrantedKey, vpnRanges: readonly string[]): AuthorizedKey | undefined {
  try {
    const line = authorizedLine({ type: g.parsed.type, base64: g.parsed.base64, comment: `${g.member}/${g.keyName}`, vpnOnly: g.vpnOnly, ...(g.key.expires ? { expires: g.key.expires } : {}) }, vpnRanges);
    return parseAuthorizedKeys(line).keys[0];
  } catch {
    return undefined;
  }
}

/** Findings that repeat per user (one CA, one command for every user) are merged into one, naming the users. */
class Merged {
  private readonly items = new Map<string, { code: LiveCode; users: Set<string>; detail: (users: string) => string; fix: string }>();
  add(code: LiveCode, subject: string, user: string, detail: (users: string) => string, fix: string): void {
    const item = this.items.get(subject) ?? { code, users: new Set<string>(), detail, fix };
    item.users.add(user);
    this.items.set(subject, item);
  }
  findings(): Finding[] {
    return [...this.items].map(([subject, i]) => make(i.code, subject, i.detail([...i.users].sort(byText).join(', ')), i.fix));
  }
}

export function liveSshdFindings(input: LiveAuditInput): Finding[] {
  const { config } = input;
  const out: Finding[] = [];
  const vpnRanges = vpnRangesOf(config.vpn);
  const hostPolicy = config.policy.ssh.host ?? DEFAULT_SSH_HOST_POLICY;
  const cas = new Set(input.registryUserCAs ?? []);
  for (const h of input.live) {
    const place = `${h.environment}/${h.host}`;
    const folder = input.folderOf(h.environment);
    const apply = `infra render, then \`ansible-playbook -i ${shellQuote(folder)} ansible/apply-access.yml --tags ssh --limit ${shellQuote(h.host)}\``;
    const sshdFix = (keyword: string, wanted: string) => `set \`${keyword} ${wanted}\` in ${h.host}'s sshd_config (and in every Match block that sets it), then reload sshd (\`systemctl reload ssh\`)`;
    if (h.unreachable !== undefined) {
      out.push(make('unreachable-host', place, `no answer: ${h.unreachable}`, `check it with \`${shellCommand(['ansible', '-i', folder, h.host, '-m', 'ansible.builtin.ping'])}\`; an unknown host key is added to known_hosts only after checking its fingerprint`));
      continue;
    }
    for (const [user, reason] of Object.entries(h.userErrors ?? {}))
      out.push(make('unreachable-host', `${place} ${user}`, `could not read what sshd trusts for ${user}: ${reason}`, `check the user exists and the inventory's become settings: \`${shellCommand(['ansible', '-i', folder, h.host, '-b', '-m', 'ansible.builtin.getent', '-a', `database=passwd key=${user}`])}\``));
    const sshd = asSshd(h);
    if (!sshd) continue;
    const merged = new Merged();

    // host-sshd-policy: root's view for PermitRootLogin, every view for the rest; one finding per setting.
    const breaches = new Map<string, { value: string; wanted: string; who: Set<string> }>();
    const judge = (settings: Readonly<Record<string, string>>, who: string, root: boolean) => {
      if (Object.keys(settings).length === 0) return; // the older answer carries no settings
      for (const b of policyBreaches(settings, hostPolicy, root)) {
        const e = breaches.get(b.keyword) ?? { value: b.value, wanted: b.wanted, who: new Set<string>() };
        e.who.add(who);
        breaches.set(b.keyword, e);
      }
    };
    if (sshd.hostView.ok) judge(sshd.hostView.settings, 'root', true);
    else out.push(make('unreachable-host', `${place} sshd`, `could not ask sshd for its settings: ${sshd.hostView.error}`, `run \`sshd -T\` as root on ${h.host} and fix what it says; the live audit needs it`));

    const users = input.plan.get(h.environment)?.get(h.host);
    for (const user of Object.keys(sshd.users).sort(byText)) {
      const u = sshd.users[user];
      const where = `${place} ${user}`;
      if (!u.view.ok) {
        if (sshd.hostView.ok) out.push(make('unreachable-host', where, `could not ask sshd what it trusts for ${user}: ${u.view.error}`, `run \`${shellCommand(['sshd', '-T', '-C', `user=${user}`])}\` as root on ${h.host}`));
        continue;
      }
      if (!u.exists) {
        out.push(make('unreachable-host', where, `there is no user ${user} on this host`, `create the user, or change the grant in infra.yml; check with \`${shellCommand(['ansible', '-i', folder, h.host, '-m', 'ansible.builtin.getent', '-a', `database=passwd key=${user}`])}\``));
        continue;
      }
      judge(u.view.settings, user, false);
      const s = u.view.settings;
      for (const [setting, keyword] of [['authorizedkeyscommand', 'AuthorizedKeysCommand'], ['authorizedprincipalscommand', 'AuthorizedPrincipalsCommand']] as const) {
        const cmd = s[setting];
        if (cmd === undefined || cmd === 'none') continue;
        const runAs = s[`${setting}user`];
        merged.add('unmanaged-auth', `${place} ${keyword}`, user, (us) => `sshd runs \`${cmd}\`${runAs && runAs !== 'none' ? ` as ${runAs}` : ''} to decide who may log in as ${us}; the registry does not manage what it answers`, `remove ${keyword} from ${h.host}'s sshd_config (and from every Match block), then reload sshd`);
      }
      const granted = users?.get(user)?.granted ?? [];
      out.push(...userFileFindings(input, u.files, { place, user, host: h.host, folder, apply, granted, vpnRanges, cas, merged }));
    }
    for (const [keyword, e] of [...breaches].sort((a, b) => byText(a[0], b[0])))
      out.push(make('host-sshd-policy', `${place} ${keyword}`, `sshd uses \`${keyword} ${e.value}\` (for ${[...e.who].sort(byText).join(', ')}); policy.ssh.host allows at most \`${keyword} ${e.wanted}\``, sshdFix(keyword, e.wanted)));
    out.push(...merged.findings());
  }
  return out;
}

interface UserPlace {
  place: string;
  user: string;
  host: string;
  folder: string;
  apply: string;
  granted: readonly GrantedKey[];
  vpnRanges: readonly string[];
  cas: ReadonlySet<string>;
  merged: Merged;
}

function userFileFindings(input: LiveAuditInput, files: readonly SshdFile[], at: UserPlace): Finding[] {
  const out: Finding[] = [];
  const { place, user, host, folder, apply } = at;
  const where = `${place} ${user}`;
  const expected = new Map(at.granted.map((g) => [g.parsed.base64, g]));
  const keyFiles = files.filter((f) => f.kind === 'keys');
  const managed = keyFiles[0];
  const present = new Set<string>();
  const revoked = new Set<string>();

  for (const f of files) {
    if (f.state === 'toolarge' && f.kind !== 'revoked')
      out.push(make('unmanaged-auth', `${where} ${f.path}`, `${f.path} (${f.kind === 'keys' ? 'AuthorizedKeysFile' : f.kind === 'ca' ? 'TrustedUserCAKeys' : 'AuthorizedPrincipalsFile'}) holds ${f.size} bytes, more than infra reads, so what sshd accepts from it is unknown`, `look at ${f.path} on ${host}; an authorized_keys file that large is not the registry's`));
    if (f.state !== 'ok' || f.text === undefined) continue;
    const parsed = parseAuthorizedKeys(f.text);
    if (f.kind === 'revoked') for (const k of parsed.keys) revoked.add(k.blob);
    if (f.kind === 'ca')
      for (const k of parsed.keys) {
        if (at.cas.has(k.blob)) continue;
        const fp = fingerprint(k.blob);
        at.merged.add('unknown-ca', `${place} TrustedUserCAKeys ${fp}`, user, (us) => `${f.path} (TrustedUserCAKeys) line ${k.line} holds a ${k.type} CA the registry does not know: any certificate it signs logs in as ${us}`, `remove that line from ${f.path} on ${host} (or the TrustedUserCAKeys setting), then reload sshd`);
      }
  }

  keyFiles.forEach((f, index) => {
    if (f.state !== 'ok' || f.text === undefined) return;
    const { keys } = parseAuthorizedKeys(f.text);
    for (const k of keys) {
      const fp = fingerprint(k.blob);
      const here = `${place} as ${user} (${f.path} line ${k.line})`;
      if (input.departedAt(k.blob, here, folder)) continue;
      const g = expected.get(k.blob);
      if (index > 0) {
        const whose = g ? `${g.member}/${g.keyName}, granted here but only through ${managed?.path}` : input.owners.has(k.blob) ? `of ${input.owners.get(k.blob)}, which no grant gives ${user} on ${host}` : 'the registry does not know';
        out.push(make('unmanaged-auth', `${where} ${fp}`, `${f.path} line ${k.line} (AuthorizedKeysFile) holds a ${k.type} key ${whose}; sshd accepts it there and the registry does not manage that file`, `${apply} (the apply empties ${f.path})`));
        continue;
      }
      if (!g) {
        const owner = input.owners.get(k.blob);
        out.push(make('unknown-key', `${where} ${fp}`, `${f.path} line ${k.line} holds a ${k.type} key ${owner ? `of ${owner}, which no grant gives ${user} on ${host}` : 'the registry does not know'}`, apply));
        continue;
      }
      present.add(k.blob);
      const rendered = renderedKey(g, at.vpnRanges);
      if (!rendered) continue;
      const differences = keyLineDifferences(rendered, k);
      if (differences.length)
        out.push(make('altered-key', `${g.member}/${g.keyName} ${where}`, `${f.path} line ${k.line} holds the key with options other than the rendered ones: ${differences.join('; ')}`, apply));
    }
  });

  for (const [blob, g] of expected) {
    if (revoked.has(blob)) {
      out.push(make('missing-key', `${g.member}/${g.keyName} ${where}`, `granted, but listed in sshd's RevokedKeys file, so sshd refuses it`, `remove it from the RevokedKeys file on ${host}, or revoke the key in the registry: \`infra keys remove ${shellQuote(g.member)} ${shellQuote(g.keyName)}\``));
      continue;
    }
    if (present.has(blob)) continue;
    const why = !managed ? ' (sshd reads no AuthorizedKeysFile for this user: AuthorizedKeysFile none)' : managed.state === 'absent' ? ' (the file does not exist)' : managed.state === 'ok' ? '' : ` (the file is ${managed.state === 'notfile' ? 'not a regular file' : managed.state === 'badtoken' ? 'named with a token sshd does not know' : 'too large to read'})`;
    out.push(make('missing-key', `${g.member}/${g.keyName} ${where}`, `granted, but not in ${managed?.path ?? 'any AuthorizedKeysFile'}${why}`, apply));
  }
  return out;
}

/**
 * The address sshd's view for a user is asked for (`sshd -T -C user=U,host=A,addr=A`): where its members
 * connect from. Every grant VPN-only: the first host address of the first VPN range (what from= lets in);
 * otherwise OUTSIDE_ADDRESS, anyone on the internet.
 */
export function askedAddress(access: UserAccess | undefined, vpnRanges: readonly string[]): string {
  const granted = access?.granted ?? [];
  if (granted.length === 0 || !granted.every((g) => g.vpnOnly)) return OUTSIDE_ADDRESS;
  for (const range of vpnRanges) {
    try {
      const c = parseCidr(range);
      return formatAddress(c.family, hostRange(c).first);
    } catch {
      continue;
    }
  }
  return OUTSIDE_ADDRESS;
}
