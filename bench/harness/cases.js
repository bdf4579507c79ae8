// The whole-process cases of `npm run bench`, each with its target where it has one.
// A case returns rows: {case, size, ms, min, max, rss, ref, ref_ms, ratio, target, met, note}.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { keysFile, peerAddresses, registry, ROTATE_BOT, ROTATE_CONSUMERS, ROTATE_TOKEN, scratchCopy, vpnRegistry } from './generate.js';
import { compare, runOnce } from './measure.js';
import { liveAuditCases } from './live-audit.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(repo, 'bin', 'run.js');
const node = process.execPath;
// As the shebang of bin/run.js starts it: with --expose-gc, which render's memory bound relies on.
const infra = (args, extra = {}) => ({ cmd: node, cwd: repo, ...extra, args: typeof args === 'function' ? (r) => ['--expose-gc', BIN, ...args(r)] : ['--expose-gc', BIN, ...args] });
const nodeNoop = { cmd: node, args: ['-e', '0'], cwd: repo };

/** The commands this build has (the oclif manifest), so cases for missing commands are skipped with a note. */
function commands() {
  try {
    return new Set(Object.keys(JSON.parse(readFileSync(path.join(repo, 'oclif.manifest.json'), 'utf8')).commands));
  } catch {
    return new Set();
  }
}

function row(name, size, { subject, reference }, refName, target) {
  const r = { case: name, size, ms: subject.median, min: subject.min, max: subject.max, rss_mb: subject.rssMB };
  if (reference) Object.assign(r, { ref: refName, ref_ms: reference.median, ratio: subject.median / reference.median });
  if (target) {
    r.target = target.text;
    r.met = target.met(r);
  }
  r.runs_ms = subject.runs;
  if (reference) r.ref_runs_ms = reference.runs;
  return r;
}
const ratioAtMost = (x) => ({ text: `≤ ${x}×`, met: (r) => r.ratio <= x });
const msAtMost = (ms, mb) => ({ text: `< ${ms / 1000} s${mb ? `, < ${mb} MB` : ''}`, met: (r) => r.ms < ms && (!mb || (r.rss_mb ?? 0) < mb) });

const sizeLabel = (m, h) => `${m.toLocaleString('en')} members × ${h.toLocaleString('en')} hosts`;

export function plan({ full }) {
  const runs = full ? 5 : 3;
  const sizes = full ? [[100, 50], [1000, 500], [10000, 2000]] : [[100, 50], [1000, 500]];
  const peers = full ? [10, 1000, 50000] : [10, 1000, 50000];
  const have = commands();
  const cases = [];

  cases.push(group(['--help', '--version', 'members list'], async () => [
    row('--help', 'start-up', compare({ subject: infra(['--help']), reference: nodeNoop, runs }), 'node -e 0', ratioAtMost(2.5)),
    row('--version', 'start-up', compare({ subject: infra(['--version']), reference: nodeNoop, runs }), 'node -e 0'),
    row('members list', 'example registry', compare({ subject: infra(['members', 'list', '--dir', repo]), reference: nodeNoop, runs }), 'node -e 0', ratioAtMost(3.0)),
  ]));

  for (const [lines, only, label] of [[30000, undefined, '30,000 mixed lines'], [10000, 'ed25519', '10,000 ed25519']])
    cases.push(group(['keys check'], async () => {
      const file = await keysFile(lines, only);
      const same = (r) => {
        if (!r.stdout.includes('SHA256:')) throw new Error('keys check printed no fingerprints');
      };
      return [row('keys check', label, compare({ subject: infra(['keys', 'check', file], { check: same, okStatus: [0, 4] }), reference: { cmd: 'ssh-keygen', args: ['-l', '-f', file], check: same }, runs }), 'ssh-keygen -l -f', ratioAtMost(1.0))];
    }));

  for (const [m, h] of sizes)
    cases.push(group(['render (first)', 'render (unchanged)'], async () => {
      const cached = await registry(m, h);
      const first = await scratchCopy(cached, `render-first-${m}`);
      const again = await scratchCopy(cached, `render-again-${m}`);
      runOnce(infra(['render', '--dir', again, '--json']));
      const hostVars = path.join(first, 'inventories/production/host_vars');
      const wroteNothing = (r) => {
        if (JSON.parse(r.stdout).written.length !== 0) throw new Error('an unchanged re-render wrote files');
      };
      const result = compare({
        subject: infra(['render', '--dir', again, '--json'], { check: wroteNothing }),
        reference: { ...infra(['render', '--dir', first, '--json']), before: () => rmSync(hostVars, { recursive: true, force: true }) },
        runs,
      });
      const big = m >= 10000;
      return [
        row('render (first)', sizeLabel(m, h), { subject: result.reference }, undefined, big ? msAtMost(3000, 400) : undefined),
        row('render (unchanged)', sizeLabel(m, h), result, 'render (first)', ratioAtMost(0.5)),
      ];
    }));

  for (const [m, h] of sizes)
    cases.push(group(['check', 'members list', 'audit --format json'], async () => {
      const root = await registry(m, h);
      const rows = [
        row('check', sizeLabel(m, h), compare({ subject: infra(['check', '--dir', root]), runs })),
        row('members list', sizeLabel(m, h), compare({ subject: infra(['members', 'list', '--dir', root, '--json']), reference: nodeNoop, runs }), 'node -e 0'),
      ];
      if (have.has('audit'))
        rows.push(row('audit --format json', sizeLabel(m, h), compare({ subject: infra(['audit', '--dir', root, '--format', 'json'], { okStatus: [0, 4] }), runs })));
      return rows;
    }));
  if (!have.has('audit')) cases.push(async () => [{ case: 'audit --format json', size: '-', note: 'skipped: this build has no `audit` command' }]);

  // vpn join at 10 peers is the reference for join at N peers: same work, more peers already taken.
  cases.push(group(['vpn list', 'vpn join'], async () => {
    const rows = [];
    const small = await scratchCopy(await vpnRegistry(10), 'vpn-join-ref');
    for (const n of peers) {
      const root = n === 10 ? undefined : await scratchCopy(await vpnRegistry(n), `vpn-join-${n}`);
      rows.push(row('vpn list', `${n.toLocaleString('en')} peers`, compare({ subject: infra(['vpn', 'list', '--dir', await vpnRegistry(n), '--json']), runs }), undefined, n === 50000 ? msAtMost(2000) : undefined));
      if (!root) continue;
      const join = (dir, count, tag) => {
        // Each join must get the next free pair of addresses: never one already taken.
        let joins = 0;
        return infra((r) => ['vpn', 'join', 'm00000', '--device', `${tag}${r + 1}`, '--public-key', wgKeyFor(`${tag}${r + 1}`), '--dir', dir, '--json'], {
          check: (res) => {
            const want = peerAddresses(count + 2 + joins++);
            if (JSON.parse(res.stdout).addresses.join() !== want.join()) throw new Error(`vpn join at ${count} peers got ${res.stdout}, expected ${want}`);
          },
        });
      };
      const result = compare({ subject: join(root, n, 'b'), reference: join(small, 10, `r${n}-`), runs });
      rows.push(row('vpn join', `${n.toLocaleString('en')} peers`, result, 'vpn join at 10 peers', n === 50000 ? ratioAtMost(1.5) : undefined));
      // The reference registry grew by runs+1 peers: keep its expected addresses in step.
      rmSync(small, { recursive: true, force: true });
      await scratchCopy(await vpnRegistry(10), 'vpn-join-ref');
    }
    return rows;
  }));

  // tokens rotate of one generic token with 1, 10 and 50 Ansible vault consumers (each consumer: one
  // encrypted var written into the inventory; all in one vars file, so one write and one record), in the
  // largest registry of the run. 10 and 50 are timed alternating with the 1-consumer rotation: the vault
  // consumers of one file are one step, so 50 may cost at most twice one.
  if (have.has('tokens:rotate'))
    cases.push(group(['tokens rotate'], async () => {
      const { prepareTokens } = await import('./tokens-setup.js');
      const rotate = async (consumers) => {
        const root = await scratchCopy(await registry(sizes.at(-1)[0], sizes.at(-1)[1]), `tokens-rotate-${consumers}`);
        keepConsumers(path.join(root, 'keys', ROTATE_BOT, 'member.yml'), consumers);
        const env = await prepareTokens(root);
        return infra(['tokens', 'rotate', `${ROTATE_BOT}/${ROTATE_TOKEN}`, '--dir', root, '--no-input', '--json'], { env, check: updatedAll(consumers) });
      };
      const label = (n) => `generic token, ${n} vault consumer${n === 1 ? '' : 's'}`;
      const one = await rotate(1);
      const rows = [row('tokens rotate', label(1), compare({ subject: one, runs }))];
      for (const consumers of [10, ROTATE_CONSUMERS])
        rows.push(row('tokens rotate', label(consumers), compare({ subject: await rotate(consumers), reference: one, runs }), `tokens rotate, ${label(1)}`, consumers === ROTATE_CONSUMERS ? ratioAtMost(2) : undefined));
      return rows;
    }));
  else cases.push(async () => [{ case: 'tokens rotate', size: '-', note: 'skipped: this build has no `tokens rotate` command' }]);

  // A farm of real sshd hosts (root only); see live-audit.js. Three runs even in a quick run: one run of a
  // farm on a shared machine says little (INFRA_BENCH_LIVE_RUNS=1 for a quick check).
  cases.push(group(['audit --live'], () => liveAuditCases({ bin: BIN, runs: Number(process.env.INFRA_BENCH_LIVE_RUNS ?? 3) })));
  // infra verify over 1,000 signed commits against git's own reading of the same signatures.
  if (have.has('verify'))
    cases.push(group(['verify'], async () => {
      const { signedHistory } = await import('./signed-history.js');
      const { repo: history, signers } = await signedHistory(1000);
      const allGood = (r) => {
        const out = JSON.parse(r.stdout);
        if (!out.ok || out.commits.length !== 1000) throw new Error(`verify judged ${out.commits.length} commits, ok=${out.ok}`);
      };
      const gitGood = (r) => {
        const good = (r.stdout.match(/^Good "git" signature/gm) ?? []).length;
        if (good !== 1000) throw new Error(`git log --show-signature found ${good} good signatures`);
      };
      return [
        row('verify', '1,000 signed commits', compare({
          subject: infra(['verify', '--dir', history, '--json'], { check: allGood }),
          reference: { cmd: 'git', args: ['-C', history, '-c', `gpg.ssh.allowedSignersFile=${signers}`, 'log', '--show-signature', '--format=%H'], cwd: history, check: gitGood },
          runs,
        }), 'git log --show-signature', ratioAtMost(1.5)),
      ];
    }));

  return cases;
}

/** A group of cases and the case names it measures, so `--only` runs just the groups it names. */
function group(names, run) {
  return Object.assign(run, { names });
}

function wgKeyFor(label) {
  return createHash('sha256').update(`wg-join:${label}`).digest().toString('base64');
}

/** A rotation's --json names every consumer as written. */
const updatedAll = (count) => (r) => {
  const updated = JSON.parse(r.stdout).updated;
  if (updated.length !== count) throw new Error(`tokens rotate wrote ${updated.length} of ${count} consumers`);
};

/** Keep the first `count` consumers of the rotate bot's token (the generator writes ROTATE_CONSUMERS). */
function keepConsumers(file, count) {
  let seen = 0;
  const lines = readFileSync(file, 'utf8').split('\n').filter((line) => !line.trimStart().startsWith('- ansible_vault_var:') || ++seen <= count);
  if (seen !== ROTATE_CONSUMERS) throw new Error(`${file}: expected ${ROTATE_CONSUMERS} consumers, found ${seen}`);
  writeFileSync(file, lines.join('\n'));
}
