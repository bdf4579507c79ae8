/**
 * Connection settings in the inventories that make Ansible run a command on the controller (the machine
 * running `infra audit --live`), listed before --live runs Ansible: an ssh option that runs a program
 * (ProxyCommand, LocalCommand, KnownHostsCommand, Match exec, another config file with -F), a replaced ssh
 * program, paramiko's proxy command, a connection that runs modules on the controller (`local`) or through a
 * local program (docker, chroot, …), and the Python a local host runs. Ansible honours each of them; anyone
 * who can change an inventory or vars file can use them to run a command as whoever runs the audit.
 * See docs/reference.md "live-runs-local-command". Pure: the values are passed in.
 */
import type { Finding } from './vpn-plan.js';

/** Where some variables are set, and the hosts they apply to. */
export interface VarSource {
  /** A file (relative to the registry), or `FILE (group G)` / `FILE (host H)` for an inventory file's own vars. */
  where: string;
  hosts: readonly string[];
  vars: Readonly<Record<string, unknown>>;
}

export interface LocalCommandSetting {
  where: string;
  variable: string;
  /** The value as set (printable, shortened). */
  value: string;
  /** Why it runs something on the controller. */
  reason: string;
  hosts: string[];
}

/** ssh command-line variables whose options may run a program on the controller. */
const SSH_ARG_VARS = ['ansible_ssh_common_args', 'ansible_ssh_extra_args', 'ansible_ssh_args', 'ansible_scp_extra_args', 'ansible_sftp_extra_args'];
/** Connection plugins that send commands over the network without a local program in between. */
const NETWORK_CONNECTIONS = new Set(['ssh', 'smart', 'paramiko', 'paramiko_ssh', 'winrm', 'psrp', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh', 'ansible.builtin.winrm', 'ansible.builtin.psrp', 'ansible.netcommon.network_cli', 'ansible.netcommon.httpapi', 'ansible.netcommon.netconf']);

/** Every variable this module looks at (what the caller reads from each vars file). */
export const CONNECTION_VARS: ReadonlySet<string> = new Set([
  ...SSH_ARG_VARS,
  'ansible_ssh_executable',
  'ansible_paramiko_proxy_command',
  'ansible_connection',
  'ansible_python_interpreter',
]);

/** ssh options (in `-o Name=value`, `-oName value` or a config line) that run a program locally. */
const COMMAND_OPTIONS = /(ProxyCommand|PermitLocalCommand|LocalCommand|KnownHostsCommand|ProxyUseFdpass)|\bMatch\b[^\n]*\bexec\b/i;
const TEMPLATE = /\{\{|\{%/;

const printable = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
};

function argsReason(value: string): string | undefined {
  const m = COMMAND_OPTIONS.exec(value);
  if (m) return `ssh option ${m[1] ?? 'Match … exec'} runs a command on the controller`;
  if (/(^|\s)-F\s*\S/.test(value)) return 'ssh reads another config file (-F), which can run commands on the controller';
  if (TEMPLATE.test(value)) return 'a template: what it expands to is only known when Ansible runs (it may run a command)';
  return undefined;
}

/** What runs on the controller for each source, in the order given; a setting of no concern is left out. */
export function localCommandSettings(sources: readonly VarSource[]): LocalCommandSetting[] {
  const out: LocalCommandSetting[] = [];
  // hosts whose connection is local somewhere: their Python runs on the controller
  const localHosts = new Set<string>();
  for (const s of sources) if (String(s.vars.ansible_connection ?? '').trim() === 'local') for (const h of s.hosts) localHosts.add(h);
  for (const s of sources) {
    const add = (variable: string, reason: string, hosts: readonly string[] = s.hosts) =>
      out.push({ where: s.where, variable, value: printable(s.vars[variable]), reason, hosts: [...hosts].sort() });
    for (const v of SSH_ARG_VARS) {
      if (!(v in s.vars) || s.vars[v] === null || s.vars[v] === undefined) continue;
      const reason = argsReason(typeof s.vars[v] === 'string' ? (s.vars[v] as string) : printable(s.vars[v]));
      if (reason) add(v, reason);
    }
    if (s.vars.ansible_ssh_executable !== undefined && s.vars.ansible_ssh_executable !== null)
      add('ansible_ssh_executable', 'runs this program on the controller instead of ssh');
    if (s.vars.ansible_paramiko_proxy_command !== undefined && s.vars.ansible_paramiko_proxy_command !== null && s.vars.ansible_paramiko_proxy_command !== '')
      add('ansible_paramiko_proxy_command', "paramiko runs this proxy command on the controller");
    const connection = s.vars.ansible_connection;
    if (typeof connection === 'string' && connection.trim() !== '') {
      const c = connection.trim();
      if (c === 'local' || c === 'ansible.builtin.local') add('ansible_connection', 'every module runs on the controller, as the user running the audit');
      else if (TEMPLATE.test(c)) add('ansible_connection', 'a template: which connection runs is only known when Ansible runs');
      else if (!NETWORK_CONNECTIONS.has(c)) add('ansible_connection', `the ${c} connection runs a program on the controller`);
    }
    if (s.vars.ansible_python_interpreter !== undefined && s.vars.ansible_python_interpreter !== null) {
      const local = s.hosts.filter((h) => localHosts.has(h));
      if (local.length) add('ansible_python_interpreter', 'the hosts with a local connection run this program on the controller', local);
    }
  }
  return out;
}

/** One medium `live-runs-local-command` finding per setting, for the audit's result. */
export function localCommandFindings(environment: string, settings: readonly LocalCommandSetting[]): Finding[] {
  return settings.map((s) => {
    const hosts = s.hosts.length > 5 ? `${s.hosts.slice(0, 5).join(', ')} and ${s.hosts.length - 5} more` : s.hosts.join(', ') || 'no host now';
    return {
      code: 'live-runs-local-command',
      severity: 'medium',
      subject: `${environment}: ${s.where}: ${s.variable}`,
      detail: `${s.variable}: ${s.value} (${s.reason}; applies to ${hosts}). \`infra audit --live\` runs Ansible with it`,
      fix: `check that ${s.where} sets ${s.variable} on purpose (its git history says who set it); remove it if not`,
    };
  });
}

/** The lines `audit --live` prints on stderr before running Ansible. */
export function localCommandNotice(environment: string, settings: readonly LocalCommandSetting[]): string[] {
  if (!settings.length) return [];
  return [
    `${environment}: ${settings.length} connection setting(s) run a command on this machine when Ansible connects (see the live-runs-local-command findings):`,
    ...settings.map((s) => `  ${s.where}: ${s.variable}: ${s.value} (${s.reason})`),
  ];
}
