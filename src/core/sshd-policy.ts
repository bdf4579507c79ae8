/**
 * `policy.ssh.host` (docs/reference.md, "--live: what it runs"): the sshd settings every host must keep,
 * read from infra.yml, and judged against what `sshd -T` says a host's sshd really does.
 */
import type { SshHostPolicy } from './types.js';
import type { Problems } from './validate.js';

/** No password or keyboard-interactive logins, root only with keys, public keys on, no user environment, no host-based trust. */
export const DEFAULT_SSH_HOST_POLICY: SshHostPolicy = {
  password_authentication: false,
  kbd_interactive_authentication: false,
  permit_root_login: 'prohibit-password',
  pubkey_authentication: true,
  permit_user_environment: false,
  hostbased_authentication: false,
};

export const ROOT_LOGIN_LEVELS = ['no', 'forced-commands-only', 'prohibit-password', 'yes'] as const;

const BOOLEAN_FIELDS = ['password_authentication', 'kbd_interactive_authentication', 'pubkey_authentication', 'permit_user_environment', 'hostbased_authentication'] as const;
type BooleanField = (typeof BOOLEAN_FIELDS)[number];

/** Each policy field with the sshd keyword it judges (as `sshd -T` prints it, and as written in sshd_config). */
const KEYWORDS: Record<BooleanField | 'permit_root_login', { setting: string; keyword: string }> = {
  password_authentication: { setting: 'passwordauthentication', keyword: 'PasswordAuthentication' },
  kbd_interactive_authentication: { setting: 'kbdinteractiveauthentication', keyword: 'KbdInteractiveAuthentication' },
  pubkey_authentication: { setting: 'pubkeyauthentication', keyword: 'PubkeyAuthentication' },
  permit_user_environment: { setting: 'permituserenvironment', keyword: 'PermitUserEnvironment' },
  hostbased_authentication: { setting: 'hostbasedauthentication', keyword: 'HostbasedAuthentication' },
  permit_root_login: { setting: 'permitrootlogin', keyword: 'PermitRootLogin' },
};

/** policy.ssh.host as written, checked; every field optional, each default from DEFAULT_SSH_HOST_POLICY. */
export function validateSshHostPolicy(p: Problems, raw: unknown): SshHostPolicy {
  const policy: SshHostPolicy = { ...DEFAULT_SSH_HOST_POLICY };
  const at = ['policy', 'ssh', 'host'];
  if (raw === undefined || raw === null) return policy;
  if (typeof raw !== 'object' || Array.isArray(raw)) return p.add(at, 'must be a mapping'), policy;
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj))
    if (!(key in KEYWORDS)) p.add([...at, key], `unknown field (known: ${Object.keys(KEYWORDS).join(', ')})`);
  for (const field of BOOLEAN_FIELDS) {
    const v = obj[field];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') p.add([...at, field], 'must be true or false');
    else policy[field] = v;
  }
  const root = obj.permit_root_login;
  if (root !== undefined) {
    if (typeof root !== 'string' || !(ROOT_LOGIN_LEVELS as readonly string[]).includes(root)) p.add([...at, 'permit_root_login'], `must be one of ${ROOT_LOGIN_LEVELS.join(', ')} (the most sshd may allow)`);
    else policy.permit_root_login = root as SshHostPolicy['permit_root_login'];
  }
  return policy;
}

/** One setting that breaks the policy, with the value sshd uses. */
export interface PolicyBreach {
  keyword: string; // e.g. PasswordAuthentication
  field: keyof SshHostPolicy;
  value: string; // what sshd -T printed
  wanted: string; // what would comply, as sshd_config would say it
}

/** PermitRootLogin as sshd -T prints it (without-password is prohibit-password's older name). */
function rootLevel(value: string): number {
  const v = value === 'without-password' ? 'prohibit-password' : value;
  const i = (ROOT_LOGIN_LEVELS as readonly string[]).indexOf(v);
  return i < 0 ? ROOT_LOGIN_LEVELS.length : i; // an unknown value counts as more than yes
}

/**
 * The settings of one `sshd -T` view that break the policy. `root`: this view is root's (PermitRootLogin
 * matters there only). A setting sshd did not print is judged by OpenSSH's compiled default.
 */
export function policyBreaches(settings: Readonly<Record<string, string>>, policy: SshHostPolicy, root: boolean): PolicyBreach[] {
  const out: PolicyBreach[] = [];
  const COMPILED: Record<string, string> = { passwordauthentication: 'yes', kbdinteractiveauthentication: 'yes', pubkeyauthentication: 'yes', permituserenvironment: 'no', hostbasedauthentication: 'no', permitrootlogin: 'prohibit-password' };
  const value = (setting: string) => (Object.hasOwn(settings, setting) ? settings[setting] : COMPILED[setting]).toLowerCase();
  for (const field of BOOLEAN_FIELDS) {
    const { setting, keyword } = KEYWORDS[field];
    const v = value(setting);
    // PermitUserEnvironment also takes a pattern list of variable names: anything but "no" lets some through.
    const on = v !== 'no';
    // PubkeyAuthentication must be as the policy says (keys are how the registry's grants log in); every
    // other field says what sshd MAY allow: a host stricter than the policy breaks nothing.
    const breaks = field === 'pubkey_authentication' ? on !== policy[field] : on && !policy[field];
    if (breaks) out.push({ keyword, field, value: v, wanted: policy[field] ? 'yes' : 'no' });
  }
  if (root) {
    const v = value('permitrootlogin');
    if (rootLevel(v) > ROOT_LOGIN_LEVELS.indexOf(policy.permit_root_login)) out.push({ keyword: 'PermitRootLogin', field: 'permit_root_login', value: v, wanted: policy.permit_root_login });
  }
  return out;
}
