// `audit --live` over a farm of real sshd hosts on this machine (root only): 1, 5 and 20 hosts, the same 20
// with one more host that accepts TCP and never answers, and that silent host alone.
//
// Each host is /usr/sbin/sshd on 127.0.0.1 and its own port, with its own host key and sshd_config, in its
// own mount namespace (its own /home, as test/helpers/sshd-farm.ts does for the proofs). Ansible logs in as
// root (a Match block gives root the bench key) and runs the collector; host-key checking stays on.
//
// The claim measured: a host that accepts TCP and never answers costs the --timeout once, in parallel with
// the rest. The silent host has no deadline of its own (no ansible_timeout): it gets the run's --timeout,
// as any host would. The 20-host run and the 20 + silent run alternate (A B A B …), so both see the same
// machine load, and the silent row's target is `≤ t(20) + --timeout`. The silent host alone shows what the
// deadline costs by itself (Ansible's start-up plus the --timeout, once: no retry).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { compare, median, runOnce } from './measure.js';

// --timeout for every run: each host's deadline. Generous enough that 20 hosts on a loaded 2-core machine
// (which runs both ends here: 20 sshd and the Ansible workers) are not counted as dead: on 2026-12-03, at load
// average 14-17, one host took 28 s and five 57 s; at 25, three of 20 hosts passed a 240 s deadline. The
// silent host costs exactly this.
const TIMEOUT_S = Number(process.env.INFRA_BENCH_LIVE_TIMEOUT ?? 360);

const must = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout || r.error}`);
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

/** Polls sshd's log file until it listens (sshd logs to a file, never a pipe the bench's spawnSync would leave undrained). */
async function listening(child, logFile, port) {
  const deadline = Date.now() + 10_000;
  const want = `Server listening on 127.0.0.1 port ${port}`;
  for (;;) {
    const log = readFileSync(logFile, 'utf8');
    if (log.includes(want)) return;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) throw new Error(`sshd on ${port} did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startSshd(dir, port, user, rootKey) {
  mkdirSync(path.join(dir, 'home', user), { recursive: true, mode: 0o755 });
  must('chown', [`${user}:`, path.join(dir, 'home', user)]);
  must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  writeFileSync(path.join(dir, 'root_keys'), `${rootKey}\n`, { mode: 0o600 });
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(dir, 'host_key')}`, `PidFile ${path.join(dir, 'pid')}`, 'UsePAM no', 'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', `AllowUsers root ${user}`, 'MaxStartups 200', 'Subsystem sftp internal-sftp', 'Match User root', `  AuthorizedKeysFile ${path.join(dir, 'root_keys')}`, ''].join('\n'),
  );
  const logFile = path.join(dir, 'sshd.log');
  const log = openSync(logFile, 'a');
  // Its own mount namespace: this host's folder is its /home.
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /home && exec /usr/sbin/sshd -D -e -f "$2"', 'sh', path.join(dir, 'home'), config], { stdio: ['ignore', log, log] });
  closeSync(log);
  return { child, ready: () => listening(child, logFile, port), config, hostKey: () => readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ') };
}

async function stopAll(children) {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      let timer;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }),
  );
}

/** Asks every ssh master connection in these control folders to exit (ssh -O exit), and forgets the folders. */
function closeMasters(dirs) {
  for (const dir of dirs.splice(0))
    for (const sock of existsSync(dir) ? readdirSync(dir) : []) spawnSync('ssh', ['-o', `ControlPath=${path.join(dir, sock)}`, '-O', 'exit', 'bench'], { stdio: 'ignore', timeout: 10_000 });
}

/** One row from a stats object of measure.compare. */
const rowOf = (size, s, extra = {}) => ({ case: 'audit --live', size, ms: s.median, min: s.min, max: s.max, rss_mb: s.rssMB, runs_ms: s.runs, load_1m: s.load1, timeout_s: TIMEOUT_S, ...extra });

export async function liveAuditCases({ bin, runs }) {
  if (process.getuid?.() !== 0) return [{ case: 'audit --live', size: '-', note: 'skipped: the sshd farm needs root' }];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'infra-bench-live-'));
  const user = `infra-bl-${randomBytes(3).toString('hex')}`;
  const children = [];
  const sockets = new Set();
  let silent;
  const controlDirs = [];
  must('useradd', ['-M', '-d', `/home/${user}`, '-s', '/bin/sh', user]);
  try {
    must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', path.join(tmp, 'key')]);
    const rootKey = readFileSync(path.join(tmp, 'key.pub'), 'utf8').trim();
    mkdirSync('/run/sshd', { recursive: true });
    // INFRA_BENCH_LIVE_MAX=5 keeps to the smaller farms (a quick check on a busy machine).
    const max = Math.min(20, Number(process.env.INFRA_BENCH_LIVE_MAX ?? 20));
    const started = [];
    for (let i = 0; i < max; i++) {
      const port = await freePort();
      const s = await startSshd(path.join(tmp, `h${i}`), port, user, rootKey);
      children.push(s.child);
      started.push({ name: `h${String(i).padStart(2, '0')}`, port, ...s });
    }
    for (const s of started) await s.ready();
    const hosts = started.map((s) => ({ name: s.name, port: s.port, config: s.config, hostKey: s.hostKey() }));
    // Accepts TCP and never writes a byte (the kernel completes the handshake even while the bench waits).
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
      if (withSilent) lines.push('    silent:', '      ansible_host: 127.0.0.1', `      ansible_port: ${silentPort}`);
      writeFileSync(path.join(root, 'inventories', 'bench', 'hosts.yml'), `${lines.join('\n')}\n`);
      return root;
    };
    // Ansible's own default ssh arguments (one connection per host, shared by the script module's few ssh
    // calls, as a user's run has), but each run starts cold: a fresh control folder, and the previous run's
    // master connections closed before it (and at the end), so no run reuses another's and none outlives the bench.
    const env = { ANSIBLE_SSH_ARGS: '-C -o ControlMaster=auto -o ControlPersist=60s', ANSIBLE_HOME: path.join(tmp, 'ansible-home'), ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-tmp'), ANSIBLE_PIPELINING: 'True' };
    let runNo = 0;
    const audit = (count, withSilent) => {
      const root = registry(count, withSilent);
      // Every run must have read every sshd host, and found the silent one (only it) unreachable.
      const answered = (r) => {
        const findings = JSON.parse(r.stdout).findings.filter((f) => f.code === 'unreachable-host');
        const expected = withSilent ? ['bench/silent'] : [];
        if (JSON.stringify(findings.map((f) => f.subject)) !== JSON.stringify(expected)) throw new Error(`unexpected unreachable hosts: ${findings.map((f) => `${f.subject}: ${f.detail}`).join('; ')}`);
      };
      const spec = { cmd: process.execPath, args: [bin, 'audit', '--live', '--json', '--timeout', String(TIMEOUT_S), '--dir', root], env, check: answered };
      spec.before = () => {
        closeMasters(controlDirs);
        const dir = path.join(tmp, `cp-${runNo++}`);
        controlDirs.push(dir);
        spec.env = { ...env, ANSIBLE_SSH_CONTROL_PATH_DIR: dir };
      };
      return spec;
    };
    const rows = [];
    // One row that fails (a real host past its deadline on an overloaded machine) is a row saying so, and
    // every finished row is saved at once (INFRA_BENCH_LIVE_PARTIAL), so a long farm run never loses the others.
    const keep = (label, measure) => {
      try {
        rows.push(...measure());
      } catch (e) {
        rows.push({ case: 'audit --live', size: label, note: `failed: ${String(e.message ?? e).split('\n')[0]}`, timeout_s: TIMEOUT_S });
      }
      if (process.env.INFRA_BENCH_LIVE_PARTIAL) writeFileSync(process.env.INFRA_BENCH_LIVE_PARTIAL, `${JSON.stringify(rows, null, 2)}\n`);
    };
    for (const count of [1, 5].filter((c) => c <= max)) {
      const size = `${count} sshd host${count === 1 ? '' : 's'}`;
      keep(size, () => [rowOf(size, compare({ subject: audit(count, false), runs }).subject)]);
    }
    if (max >= 20) {
      // No warm-up: every run starts cold anyway (fresh control folder), and each costs minutes here.
      keep('20 sshd hosts (+ 1 silent)', () => {
        const { subject, reference } = compare({ subject: audit(20, true), reference: audit(20, false), runs, warmup: false });
        const limit = reference.median + TIMEOUT_S * 1000;
        return [
          rowOf('20 sshd hosts', reference, { note: 'no warm-up' }),
          rowOf('20 sshd hosts + 1 silent', subject, { ref: '20 sshd hosts', ref_ms: reference.median, ratio: subject.median / reference.median, target: `≤ 20 hosts + ${TIMEOUT_S} s`, met: subject.median <= limit, ref_runs_ms: reference.runs, note: 'no warm-up' }),
        ];
      });
      if (process.env.INFRA_BENCH_LIVE_ALONE !== '0')
        keep('1 silent host alone', () => {
          // No warm-up: there is nothing to warm, and each run costs the whole deadline.
          const alone = audit(0, true);
          const samples = Array.from({ length: runs }, (_, r) => (alone.before(r), runOnce(alone, r)));
          const ms = samples.map((x) => x.ms);
          const stats = { median: median(ms), min: Math.min(...ms), max: Math.max(...ms), rssMB: Math.max(...samples.map((x) => x.rssMB ?? 0)) || undefined, runs: ms, load1: samples.map((x) => Number(x.load1.toFixed(2))) };
          return [rowOf('1 silent host alone', stats, { note: `a host that accepts TCP and never answers, --timeout ${TIMEOUT_S}; no warm-up` })];
        });
    }
    return rows;
  } finally {
    closeMasters(controlDirs);
    await stopAll(children);
    for (const s of sockets) s.destroy();
    silent?.close();
    spawnSync('userdel', ['-f', user], { timeout: 60_000 });
    rmSync(tmp, { recursive: true, force: true });
  }
}
