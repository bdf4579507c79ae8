/** Principals: add, list, show, edit, offboard. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Document, isSeq } from 'yaml';
import { loadInventories } from '../adapters/inventories.js';
import { readPublicKey, type PgpKeyInfo } from '../adapters/pgp.js';
import { memberRel } from '../adapters/registry-root.js';
import { YAML_OUT } from '../adapters/yaml-load.js';
import { tokenDueMark } from '../core/audit.js';
import { tokenDue } from '../core/tokens.js';
import { vaultPasswordChecklist } from '../core/vault-checklist.js';
import { VAULT_PASSWORD_FILE } from '../core/vault-state.js';
import { secretChecklistLines, secretsReadableBy, type CatalogEntry } from '../core/secrets.js';

type SecretToRotate = ReturnType<typeof secretsReadableBy>[number];
import { daysBetween } from '../core/dates.js';
import { hostsReachedBy, type Reach } from '../core/grants.js';
import { parsePublicKey } from '../core/ssh-key.js';
import { GITHUB_LOGIN_RE, type Member, type Registry } from '../core/types.js';
import { assertHandle, EMAIL_RE, GROUP_RE, isIsoDate, ORG_RE, printable, textProblem } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { need, requireFlags, requireMember, today, type Context } from './context.js';
import { keyMarks, type KeyMark } from './keys.js';
import { shellQuote } from '../lib/shell-quote.js';

const orgProblem = (v: string) => (ORG_RE.test(v) ? undefined : 'an organisation id: lowercase letters, digits, . _ -');
const emailProblem = (v: string) => (EMAIL_RE.test(v) ? undefined : 'an email address');
const nameProblem = (v: string) => textProblem(v, 'a name');
const githubProblem = (v: string) => (GITHUB_LOGIN_RE.test(v) ? undefined : 'a GitHub login (letters, digits and single hyphens, at most 39)');

function checkGroups(flag: string, groups: string[]): void {
  for (const g of groups) if (!GROUP_RE.test(g)) throw new InfraError(ExitCode.invalid, `--${flag}: "${printable(g)}" is not a group name (lowercase letters, digits, _ and -)`);
}

const splitList = (value: string | undefined) => (value ?? '').split(',').map((g) => g.trim()).filter(Boolean);

/** An OpenPGP public key file that can receive tokens: public, and able to encrypt. */
async function readPgpFile(ctx: Context, file: string): Promise<PgpKeyInfo> {
  const data = await fs.readFile(path.resolve(ctx.cwd, file)).catch(() => {
    throw new InfraError(ExitCode.invalid, `--pgp ${file}: no such file`, { hint: 'export the key first: gpg --export --armor EMAIL > key.asc' });
  });
  const key = await readPublicKey(data, file);
  if (!key.canEncrypt)
    throw new InfraError(ExitCode.invalid, `--pgp ${file}: ${key.encryptProblem ?? `the key (${key.fingerprint}) cannot encrypt`}, so secrets cannot be encrypted to it`, {
      hint: `add one: gpg --quick-add-key ${shellQuote(key.fingerprint)} cv25519 encr, then export it again`,
    });
  return key;
}

export function memberYaml(fields: Record<string, unknown>): string {
  const doc = new Document(fields);
  doc.commentBefore = ' yaml-language-server: $schema=../../schema/member.schema.json';
  // groups as people write them, `groups: [infra, meet-tech]`, so edits and reviews look alike
  const groups = doc.get('groups', true);
  if (isSeq(groups)) groups.flow = true;
  return doc.toString(YAML_OUT);
}

export interface AddMemberInput {
  handle: string;
  name?: string;
  org?: string;
  email?: string;
  groups?: string;
  github?: string;
  bot?: boolean;
  pgp?: string;
}

export interface AddMemberResult {
  handle: string;
  kind: 'human' | 'bot';
  written: string[];
  pgp_fingerprint?: string;
}

export async function addMember(ctx: Context, input: AddMemberInput): Promise<AddMemberResult> {
  assertHandle(input.handle);
  await ctx.store.root(); // no registry: fail before any prompt
  const kind = input.bot ? 'bot' : 'human';
  // Without a terminal, name every missing flag at once rather than one per run.
  requireFlags(ctx, { name: input.name, org: input.org, ...(kind === 'human' ? { email: input.email } : {}) }, `infra members add ${shellQuote(input.handle)} --name "Full Name" --org ORG${kind === 'human' ? ' --email EMAIL' : ' --bot'}`);
  const groups = splitList(input.groups);
  checkGroups('groups', groups);
  if (input.github !== undefined && githubProblem(input.github)) throw new InfraError(ExitCode.invalid, `--github: ${githubProblem(input.github)}`);
  const pgp = input.pgp !== undefined ? await readPgpFile(ctx, input.pgp) : undefined;

  const name = await need(ctx, input.name, 'name', 'Full name', nameProblem);
  const org = await need(ctx, input.org, 'org', 'Organisation id (e.g. hypha)', orgProblem);
  const email = kind === 'human' || input.email !== undefined ? await need(ctx, input.email, 'email', 'Email', emailProblem) : undefined;

  const fields: Record<string, unknown> = {
    name,
    kind,
    org,
    ...(email ? { email } : {}),
    ...(input.github ? { github: input.github } : {}),
    status: 'active',
    groups,
    ssh_keys: [],
    vpn_peers: [],
    ...(kind === 'bot' ? { tokens: [] } : {}),
  };
  const { written } = await ctx.store.mutate('members add', (tx) => {
    if (tx.registry.members.some((m) => m.handle === input.handle) || tx.loaded.files.has(memberRel(input.handle)))
      throw new InfraError(ExitCode.invalid, `member "${input.handle}" already exists: ${memberRel(input.handle)}`, { hint: `see it with \`infra members show ${shellQuote(input.handle)}\`, change it with \`infra members edit ${shellQuote(input.handle)}\`` });
    tx.writeFile(memberRel(input.handle), memberYaml(fields));
    if (pgp) tx.writeFile(`keys/${input.handle}/pgp.asc`, pgp.armored);
  });
  return { handle: input.handle, kind, written, ...(pgp ? { pgp_fingerprint: pgp.fingerprint } : {}) };
}

export interface EditMemberInput {
  handle: string;
  name?: string;
  email?: string;
  org?: string;
  /** the whole list, comma-separated */
  groups?: string;
  addGroup?: string[];
  removeGroup?: string[];
  pgp?: string;
  github?: string;
}

export interface EditMemberResult {
  handle: string;
  changed: string[];
  written: string[];
  pgp_fingerprint?: string;
}

/** Change a principal's fields; each edit changes only its own line of member.yml. */
export async function editMember(ctx: Context, input: EditMemberInput): Promise<EditMemberResult> {
  assertHandle(input.handle);
  if (input.name !== undefined && nameProblem(input.name)) throw new InfraError(ExitCode.invalid, `--name: ${nameProblem(input.name)}`);
  if (input.org !== undefined && orgProblem(input.org)) throw new InfraError(ExitCode.invalid, `--org: ${orgProblem(input.org)}`);
  if (input.email !== undefined && emailProblem(input.email)) throw new InfraError(ExitCode.invalid, `--email: ${emailProblem(input.email)}`);
  if (input.github !== undefined && githubProblem(input.github)) throw new InfraError(ExitCode.invalid, `--github: ${githubProblem(input.github)}`);
  if (input.groups !== undefined && (input.addGroup?.length || input.removeGroup?.length))
    throw new InfraError(ExitCode.usage, '--groups sets the whole list: it cannot be combined with --add-group or --remove-group', { hint: `infra members edit ${shellQuote(input.handle)} --add-group G` });
  const whole = input.groups !== undefined ? splitList(input.groups) : undefined;
  if (whole) checkGroups('groups', whole);
  checkGroups('add-group', input.addGroup ?? []);
  checkGroups('remove-group', input.removeGroup ?? []);
  const pgp = input.pgp !== undefined ? await readPgpFile(ctx, input.pgp) : undefined;
  const asked = [input.name, input.email, input.org, input.groups, input.github, input.pgp].some((v) => v !== undefined) || input.addGroup?.length || input.removeGroup?.length;
  if (!asked)
    throw new InfraError(ExitCode.usage, 'nothing to change: pass at least one of --name --email --org --groups --add-group --remove-group --pgp --github', {
      hint: `infra members edit ${shellQuote(input.handle)} --pgp ${shellQuote(`${input.handle}.asc`)}`,
    });

  const { result, written } = await ctx.store.mutate('members edit', async (tx) => {
    const member = requireMember(tx.registry, input.handle);
    const editor = tx.editMember(input.handle);
    const changed: string[] = [];
    const scalars: Array<[keyof Member & string, string | undefined, string]> = [
      ['name', input.name, 'kind'],
      ['org', input.org, 'kind'],
      ['email', input.email, 'org'],
      ['github', input.github, member.email !== undefined || input.email !== undefined ? 'email' : 'org'],
    ];
    for (const [field, value, after] of scalars) {
      if (value === undefined || member[field] === value) continue;
      editor.set([field], value, after);
      changed.push(field);
    }
    let groups = whole ?? [...member.groups];
    for (const g of input.addGroup ?? []) if (!groups.includes(g)) groups.push(g);
    const missing = (input.removeGroup ?? []).filter((g) => !member.groups.includes(g));
    if (missing.length)
      throw new InfraError(ExitCode.invalid, `${input.handle} is not in group${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
        hint: `their groups: ${member.groups.join(', ') || 'none'}`,
      });
    groups = groups.filter((g) => !(input.removeGroup ?? []).includes(g));
    if (groups.join(',') !== member.groups.join(',')) {
      editor.setList(['groups'], groups);
      changed.push('groups');
    }
    if (pgp) {
      tx.writeFile(`keys/${input.handle}/pgp.asc`, pgp.armored);
      changed.push('pgp');
    }
    return { handle: input.handle, changed };
  });
  return { ...result, written, ...(pgp ? { pgp_fingerprint: pgp.fingerprint } : {}) };
}

export interface MemberSummary {
  handle: string;
  name: string;
  kind: 'human' | 'bot';
  org: string;
  status: 'active' | 'departed';
  groups: string[];
  ssh_keys: number;
  vpn_peers: number;
  admin: boolean;
}

export async function listMembers(ctx: Context): Promise<{ members: MemberSummary[] }> {
  const { registry } = await ctx.store.load();
  return {
    members: registry.members.map((m) => ({
      handle: m.handle,
      name: m.name,
      kind: m.kind,
      org: m.org,
      status: m.status,
      groups: m.groups,
      ssh_keys: m.ssh_keys.length,
      vpn_peers: m.vpn_peers.length,
      admin: registry.config.admins.includes(m.handle),
    })),
  };
}

export interface ShowMemberResult {
  member: Omit<Member, 'has_pgp'> & { admin: boolean; has_pgp: boolean };
  keys: Array<{ name: string; type: string; bits: number; fingerprint: string; added: string; age_days: number; expires?: string; source?: string; marks: KeyMark[] }>;
  /** `mark`: the audit's token-overdue or token-due-soon as of today. */
  tokens: Array<{ name: string; kind: string; rotated_at?: string; next_due?: string; mark?: KeyMark }>;
  reaches: Array<Omit<Reach, 'vpnOnly'> & { vpn_only: boolean }>;
}

export async function showMember(ctx: Context, handle: string): Promise<ShowMemberResult> {
  assertHandle(handle);
  const loaded = await ctx.store.load();
  const { config, members } = loaded.registry;
  const member = requireMember(loaded.registry, handle);
  const reaches = hostsReachedBy(member.handle, config, members, await loadInventories(loaded)).map(({ vpnOnly, ...r }) => ({ ...r, vpn_only: vpnOnly }));
  const date = today(ctx);
  const keys = member.ssh_keys.map((k) => {
    const p = parsePublicKey(k.key);
    const marks = keyMarks(member.status, k, config.policy, date);
    return { name: k.name, type: p.type, bits: p.bits, fingerprint: p.fingerprint, added: k.added, age_days: daysBetween(k.added, date), ...(k.expires ? { expires: k.expires } : {}), ...(k.source ? { source: k.source } : {}), marks };
  });
  const tokens = member.tokens.map((t) => {
    // the same next due date as `infra tokens list` (the day before a GitHub expiry, when that comes first)
    const next = tokenDue(t, config.policy.tokens.rotate_every_days, date, config.policy.audit.horizon_days).due;
    const due = tokenDueMark(t, config.policy, date);
    return { name: t.name, kind: t.kind, ...(t.rotated_at ? { rotated_at: t.rotated_at } : {}), ...(next ? { next_due: next } : {}), ...(due ? { mark: { code: due.code, severity: due.severity, note: due.note } } : {}) };
  });
  return { member: { ...member, admin: config.admins.includes(member.handle) }, keys, tokens, reaches };
}

export interface OffboardResult {
  handle: string;
  departed: string;
  already_departed: boolean;
  removed_from_admins: boolean;
  revoked_keys: string[];
  peers_removed_at_render: string[];
  tokens_to_rotate: string[];
  /** Every admin-held secret they could read (by the ciphertexts' recipients), by kind, with its rotate command. */
  secrets_to_rotate: SecretToRotate[];
  checklist: string[];
  written: string[];
}

/**
 * What still has to happen after the registry says someone left. Pure: from the registry as it was, and
 * the catalog of admin-held secrets (who each ciphertext is encrypted to) when there is one.
 */
export function offboardChecklist(registry: Registry, member: Member, wasAdmin: boolean, catalog?: readonly CatalogEntry[], vaultStored = true): { checklist: string[]; tokensToRotate: string[]; secrets: SecretToRotate[] } {
  const h = member.handle;
  const secrets = catalog ? secretsReadableBy(catalog, h) : [];
  const readable = secrets.filter((s) => s.kind === 'token').map((s) => s.subject);
  const own = member.tokens.map((t) => `${h}/${t.name}`);
  // On a re-run the admin entry is gone, but what they could decrypt until rotated stays on the list.
  const tokens = wasAdmin ? [...new Set([...registry.members.flatMap((m) => m.tokens.map((t) => `${m.handle}/${t.name}`)), ...readable])] : [...new Set([...own, ...readable])];
  const checklist = [
    `Render and apply: \`infra render\`, review and commit, then run the playbook (ansible/apply-access.yml); ${member.ssh_keys.length} key(s) of ${h} move to infra_revoked_keys and leave every host.`,
  ];
  if (member.certificates?.length)
    checklist.push(`Certificates: every key of ${h} goes into the KRL at that render, so their ${member.certificates.length} certificate(s) stop working on each host once applied, expired or not.`);
  if (member.vpn_peers.length)
    checklist.push(`VPN: ${member.vpn_peers.map((p) => `${p.network}/${p.device}`).join(', ')} drop out of the servers' peer lists at that render; apply it (ansible/wireguard.yml) so the tunnels close.`);
  if ((wasAdmin && tokens.length) || secrets.length)
    checklist.push(`Secrets: ${h} could decrypt what is listed below: re-encrypt every secret to the remaining admins with \`infra tokens reencrypt --key YOUR-KEY.asc\`, then rotate each one.`);
  const listed = new Set(secrets.filter((s) => s.kind === 'token').map((s) => s.subject));
  for (const t of tokens) if (!listed.has(t)) checklist.push(`Rotate ${t}: \`infra tokens rotate ${shellQuote(t)}\` (readable by ${h} until then).`);
  checklist.push(...secretChecklistLines(secrets, h));
  // a vault password kept outside the registry is not in the catalog: say how to bring it in, then rotate
  if (wasAdmin && !vaultStored) checklist.push(...vaultPasswordChecklist(h, false));
  checklist.push(
    `Accounts outside infra: ${member.github ? `remove @${member.github} from the GitHub organisation, ` : 'GitHub organisation, '}Matrix rooms and admin rights, BigBlueButton/Greenlight admin accounts, mailing lists, the password manager, DNS and hosting panels.`,
  );
  checklist.push(`Check nothing is left: \`infra render --check\`, \`infra members show ${shellQuote(h)}\` (reaches nothing), then \`infra audit\` (no departed-access for ${h}; add \`--live\` to look on the hosts).`);
  return { checklist, tokensToRotate: tokens, secrets };
}

/** Mark departed: `status` changes and `departed` is added; in infra.yml only their admin entry goes. */
export async function offboardMember(ctx: Context, handle: string, date?: string): Promise<OffboardResult> {
  assertHandle(handle);
  if (date !== undefined && !isIsoDate(date)) throw new InfraError(ExitCode.invalid, `--date must be a date YYYY-MM-DD`, { hint: `infra members offboard ${shellQuote(handle)} --date ${shellQuote(today(ctx))}` });
  const when = date ?? today(ctx);
  const vaultStored = await fs.access(path.join(await ctx.store.root(), VAULT_PASSWORD_FILE)).then(() => true, () => false);
  // who can read each secret, from the ciphertexts, as the registry is before the change
  const before = await ctx.store.load();
  const { readSecretCatalog } = await import('../adapters/secret-catalog.js');
  const catalog = await readSecretCatalog(before.registry.root, before.registry.members);
  const { result, written } = await ctx.store.mutate('members offboard', (tx) => {
    const member = requireMember(tx.registry, handle);
    const wasAdmin = tx.registry.config.admins.includes(handle);
    const already = member.status === 'departed';
    if (!already) {
      const editor = tx.editMember(handle);
      editor.set(['status'], 'departed');
      editor.set(['departed'], when, 'status'); // right after status, where a reader looks for it
    }
    if (wasAdmin) tx.edit('infra.yml').removeValue(['admins'], handle);
    const { checklist, tokensToRotate, secrets } = offboardChecklist(tx.registry, member, wasAdmin, catalog, vaultStored);
    return {
      handle,
      departed: already ? member.departed! : when,
      already_departed: already,
      removed_from_admins: wasAdmin,
      revoked_keys: member.ssh_keys.map((k) => `${handle}/${k.name}`),
      peers_removed_at_render: member.vpn_peers.map((p) => `${p.network}/${p.device}`),
      tokens_to_rotate: tokensToRotate,
      secrets_to_rotate: secrets,
      checklist,
    };
  });
  return { ...result, written };
}
