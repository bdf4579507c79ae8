// `audit --live` over a farm of real sshd hosts on this machine (root only): 1, 5 and 20 hosts, and 20 with
// one more host that accepts TCP and never answers (it should cost the --timeout once, beside the others).
// Each host is /usr/sbin/sshd on 127.0.0.1 and its own port with its own config; Ansible logs in as root
// (a Match block gives root the bench key) and runs the collector; host-key checking stays on.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { compare } from './measure.js';

// --timeout for the runs: generous, so a loaded machine's slow module runs are not counted as dead hosts; the
// silent host gets Ansible's own 10 s connection timeout (ansible_timeout), the default --timeout.
const TIMEOUT_S = 60;
const SILENT_TIMEOUT_S = 10;

const must = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
};
const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function startSshd(dir, port, users, rootKey) {
  mkdirSync(dir, { recursive: true });
  must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  writeFileSync(path.join(dir, 'root_keys'), `${rootKey}\n`, { mode: 0o600 });
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(dir, 'host_key')}`, `PidFile ${path.join(dir, 'pid')}`, 'UsePAM no', 'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', `AllowUsers root ${users.join(' ')}`, 'MaxStartups 200', 'Subsystem sftp internal-sftp', 'Match User root', `  AuthorizedKeysFile ${path.join(dir, 'root_keys')}`, ''].join('\n'),
  );
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd on ${port} did not start: ${log}`)), 10_000);
    child.stderr.on('data', (d) => {
      log += d;
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`sshd on ${port} exited: ${log}`)));
  });
  child.removeAllListeners('exit');
  return { child, config, hostKey: readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ') };
}

export async function liveAuditCases({ bin, runs }) {
  if (process.getuid?.() !== 0) return [{ case: 'audit --live', size: '-', note: 'skipped: the sshd farm needs root' }];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'infra-bench-live-'));
  const user = `infra-bl-${randomBytes(3).toString('hex')}`;
  const children = [];
  const sockets = new Set();
  let silent;
  must('useradd', ['-m', '-s', '/bin/sh', user]);
  try {
    must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', path.join(tmp, 'key')]);
    const rootKey = readFileSync(path.join(tmp, 'key.pub'), 'utf8').trim();
    mkdirSync('/run/sshd', { recursive: true });
    const hosts = [];
    for (let i = 0; i < Math.min(20, Number(process.env.INFRA_BENCH_LIVE_MAX ?? 20)); i++) {
      const port = await freePort();
      const s = await startSshd(path.join(tmp, `h${i}`), port, [user], rootKey);
      children.push(s.child);
      hosts.push({ name: `h${String(i).padStart(2, '0')}`, port, config: s.config, hostKey: s.hostKey });
    }
    silent = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('error', () => undefined);
    });
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = silent.address().port;
    const knownHosts = path.join(tmp, 'known_hosts');
    writeFileSync(knownHosts, hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostKey}`).join('\n') + '\n');

    const registry = (count, withSilent) => {
      const root = path.join(tmp, `reg-${count}${withSilent ? '-silent' : ''}`);
      mkdirSync(path.join(root, 'keys', 'alice'), { recursive: true });
      mkdirSync(path.join(root, 'inventories', 'bench'), { recursive: true });
      writeFileSync(path.join(root, 'infra.yml'), ['org: Bench', 'admins: []', 'environments:', '  bench: inventories/bench', 'access:', `  - {groups: [infra], hosts: all, user: ${user}}`, 'vpn: {}', ''].join('\n'));
      writeFileSync(path.join(root, 'keys', 'alice', 'member.yml'), ['name: Alice', 'kind: human', 'org: bench', 'email: alice@example.org', 'status: active', 'groups: [infra]', 'ssh_keys:', `  - {name: laptop, key: '${rootKey}', added: 2026-01-01}`, ''].join('\n'));
      const common = `-o UserKnownHostsFile=${knownHosts} -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes`;
      const lines = ['all:', '  vars:', '    ansible_user: root', `    ansible_ssh_private_key_file: ${path.join(tmp, 'key')}`, `    ansible_ssh_common_args: "${common}"`, '    ansible_python_interpreter: /usr/bin/python3', '    infra_become: false', '  hosts:'];
      for (const h of hosts.slice(0, count)) lines.push(`    ${h.name}:`, '      ansible_host: 127.0.0.1', `      ansible_port: ${h.port}`, `      infra_sshd_config: ${h.config}`);
      if (withSilent) lines.push('    silent:', '      ansible_host: 127.0.0.1', `      ansible_port: ${silentPort}`, `      ansible_timeout: ${SILENT_TIMEOUT_S}`);
      writeFileSync(path.join(root, 'inventories', 'bench', 'hosts.yml'), `${lines.join('\n')}\n`);
      return root;
    };
    const env = { ANSIBLE_SSH_ARGS: '-o ControlMaster=no', ANSIBLE_HOME: path.join(tmp, 'ansible-home'), ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-tmp'), ANSIBLE_PIPELINING: 'True' };
    const rows = [];
    // INFRA_BENCH_LIVE_MAX=5 keeps to the smaller farms (a quick check on a busy machine).
    const max = Number(process.env.INFRA_BENCH_LIVE_MAX ?? 20);
    for (const [count, withSilent] of [[1, false], [5, false], [20, false], [20, true]].filter(([c]) => c <= max)) {
      const root = registry(count, withSilent);
      const answered = (r) => {
        const findings = JSON.parse(r.stdout).findings.filter((f) => f.code === 'unreachable-host');
        const expected = withSilent ? ['bench/silent'] : [];
        if (JSON.stringify(findings.map((f) => f.subject)) !== JSON.stringify(expected)) throw new Error(`unexpected unreachable hosts: ${findings.map((f) => `${f.subject}: ${f.detail}`).join('; ')}`);
      };
      const measured = compare({ subject: { cmd: process.execPath, args: [bin, 'audit', '--live', '--json', '--timeout', String(TIMEOUT_S), '--dir', root], env, check: answered }, runs });
      const s = measured.subject;
      rows.push({ case: 'audit --live', size: `${count} sshd hosts${withSilent ? ' + 1 silent' : ''}`, ms: s.median, min: s.min, max: s.max, rss_mb: s.rssMB, runs_ms: s.runs, note: withSilent ? `silent host: ${SILENT_TIMEOUT_S} s connection timeout` : undefined });
    }
    return rows;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    for (const s of sockets) s.destroy();
    silent?.close();
    spawnSync('userdel', ['-r', '-f', user]);
    rmSync(tmp, { recursive: true, force: true });
  }
}
