/**
 * Every command infra suggests (an error's hint, a warning's fix, a "next:" line) is meant to be pasted into a
 * shell, so a value from data in it must reach the shell as one word, unchanged. Each row drives a service
 * (no build) with a value infra accepts but a shell would act on (a path with a space and `$(touch …)`, a host
 * pattern with `*` and `!`, a file name with `'`), then reads the suggested command back as a POSIX shell
 * would (test/helpers/shell-words.ts: an unquoted `$`, glob or `!` is an error) and checks the exact argv.
 * The static guard for new hints is test/core/suggested-commands-guard.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LiveCollector } from '../../src/adapters/ansible-live.js';
import { RegistryStore } from '../../src/adapters/registry-store.js';
import { runAudit } from '../../src/services/audit.js';
import { addEnvironment } from '../../src/services/environments.js';
import { addKeys } from '../../src/services/keys.js';
import { checkRegistry } from '../../src/services/registry.js';
import { adminKey } from '../../src/services/token-common.js';
import { joinVpn, vpnStatus } from '../../src/services/vpn.js';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';
import { InfraError } from '../../src/lib/errors.js';
import { shellCommand } from '../../src/lib/shell-quote.js';
import { seededRandom, testContext, type TestContext } from '../helpers/context.js';
import { copyExample, tempDir } from '../helpers/example.js';
import { baseConfig, ed25519Line, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { commandsAt, shellWords } from '../helpers/shell-words.js';

/** A folder or file name that a shell would split, expand and run, but that a file system takes. */
const HOSTILE_PATH = "inv dir/$(touch pwned)/it's";
/** An Ansible host pattern: `*` globs and `!` is bash history unless quoted. */
const HOST_PATTERN = 'web*:!db';
/** A wg interface name as a hostile server could report it. */
const HOSTILE_IFACE = 'wg0;touch pwned';
const SERVER_KEY = 'QsYq4yARL4YyaJLcm/zwkAnSSm5p+SQ/AE3KJduyGlo=';
/** A WireGuard key no member of the example registry has. */
const STRANGER = publicKeyOf(generatePrivateKey(seededRandom('q15-stranger')));

interface Row {
  name: string;
  /** Runs the service; returns what it printed or the error's message and hint. */
  run: () => Promise<string>;
  /** Where the suggested command starts in that text, and the argv a shell must read from it. */
  prefix: string;
  argv: (ctx: Ctx) => string[];
}
interface Ctx {
  root: string;
}

/** Every string in a result (a finding's fix, a problem's message), one a line. */
const stringsIn = (v: unknown): string[] => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(stringsIn) : []);

/** The error's message and hint, or what the service printed and returned when it did not fail. */
async function said(ctx: TestContext, work: Promise<unknown>): Promise<string> {
  try {
    const result = await work;
    return [ctx.output.stdout, ctx.output.stderr, ...stringsIn(result)].join('\n');
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    return `${e.message}\n${e.hint ?? ''}\n${ctx.output.stderr}`;
  }
}

/** A registry under a folder whose own name is hostile, so every path built from the root is too. */
async function hostileRoot(files: Record<string, string> = {}, config = baseConfig()): Promise<string> {
  const root = path.join(await tempDir('infra-q15-quote-'), "reg $(touch pwned) it's");
  return makeRegistry({ config, members: { alice: memberData('alice') }, files }, root);
}

const state: Ctx = { root: '' };

const ROWS: Row[] = [
  {
    name: 'env add: a PATH with a space, $(…) and a quote that already holds an inventory',
    run: async () => {
      state.root = await makeRegistry({ config: baseConfig(), files: { [`${HOSTILE_PATH}/hosts.yml`]: 'all:\n  hosts:\n    web1: {}\n' } });
      const ctx = testContext({ root: state.root });
      return said(ctx, addEnvironment(ctx, { name: 'staging', path: HOSTILE_PATH, hosts: ['web2'] }));
    },
    prefix: 'infra env add',
    argv: () => ['infra', 'env', 'add', 'staging', HOSTILE_PATH],
  },
  {
    name: 'audit: --limit with a host pattern, without --live',
    run: async () => {
      state.root = await makeRegistry({ config: baseConfig() });
      const ctx = testContext({ root: state.root });
      return said(ctx, runAudit(ctx, { limit: HOST_PATTERN }));
    },
    prefix: 'infra audit',
    argv: () => ['infra', 'audit', '--live', '--limit', HOST_PATTERN],
  },
  {
    name: 'vpn status: a wg dump whose interface name holds a command (the `wg set … remove` of issue-style reports)',
    run: async () => {
      state.root = await copyExample();
      const dump = path.join(state.root, 'dump.txt');
      await fs.writeFile(dump, `${HOSTILE_IFACE}\t(none)\t${SERVER_KEY}\t51820\toff\n${HOSTILE_IFACE}\t${STRANGER}\t(none)\t(none)\t10.77.0.99/32\t0\t0\t0\toff\n`);
      const ctx = testContext({ root: state.root });
      return said(ctx, vpnStatus(ctx, { file: dump }));
    },
    prefix: 'wg set',
    argv: () => ['wg', 'set', HOSTILE_IFACE, 'peer', STRANGER, 'remove'],
  },
  {
    name: 'keys add: a FILE and a --github user with a glob and a space',
    run: async () => {
      state.root = await makeRegistry({ config: baseConfig(), members: { alice: memberData('alice') } });
      const ctx = testContext({ root: state.root });
      return said(ctx, addKeys(ctx, { handle: 'alice', file: 'key.pub', github: 'al ice*' }));
    },
    prefix: 'infra keys add',
    argv: () => ['infra', 'keys', 'add', 'alice', '--github', 'al ice*', '--all'],
  },
  {
    name: 'check: --dir names a folder that does not exist',
    run: async () => {
      const dir = path.join(await tempDir('infra-q15-quote-'), 'no such $(touch pwned)');
      const ctx = { ...testContext({ root: dir }), store: new RegistryStore({ dir }) };
      state.root = dir;
      return said(ctx, checkRegistry(ctx));
    },
    prefix: 'infra init',
    argv: ({ root }) => ['infra', 'init', '--dir', root],
  },
  {
    name: 'audit --since: the registry (under a hostile folder name) is not in git',
    run: async () => {
      state.root = await hostileRoot();
      const ctx = testContext({ root: state.root });
      return said(ctx, runAudit(ctx, { since: 'HEAD~1' }));
    },
    prefix: 'git -C',
    argv: ({ root }) => ['git', '-C', root],
  },
  {
    name: 'audit --live: a host that does not answer, in an inventory under a hostile path',
    run: async () => {
      state.root = await makeRegistry({
        config: baseConfig({ environments: { production: HOSTILE_PATH }, access: [{ groups: ['ops'], hosts: 'all', user: 'root' }] }),
        members: { alice: memberData('alice', { groups: ['ops'], ssh_keys: [{ name: 'laptop', key: ed25519Line('q15-alice'), added: '2026-01-01' }] }) },
        files: { [`${HOSTILE_PATH}/hosts.yml`]: 'all:\n  hosts:\n    web1: {}\n' },
      });
      const ctx = testContext({ root: state.root });
      const collector: LiveCollector = async () => ({ live: [{ environment: 'production', host: 'web1', unreachable: 'timed out' }], dumps: [] });
      return said(ctx, runAudit(ctx, { live: true }, collector));
    },
    prefix: 'ansible -i',
    argv: () => ['ansible', '-i', HOSTILE_PATH, 'web1', '-m', 'ansible.builtin.ping'],
  },
  {
    name: 'vpn join: --out in a folder that does not exist',
    run: async () => {
      state.root = await copyExample();
      const ctx = testContext({ root: state.root });
      return said(ctx, joinVpn(ctx, { handle: 'alice', device: 'tablet', out: `${HOSTILE_PATH}/tablet.conf` }));
    },
    prefix: 'mkdir -p',
    argv: () => ['mkdir', '-p', HOSTILE_PATH],
  },
  {
    name: 'a private key file others can read, named with a quote and $(…)',
    run: async () => {
      state.root = await tempDir('infra-q15-quote-');
      const file = path.join(state.root, "my key $(touch pwned) it's.asc");
      await fs.writeFile(file, 'not a key', { mode: 0o644 });
      await fs.chmod(file, 0o644);
      const ctx = testContext({ root: state.root });
      return said(ctx, adminKey(ctx, file));
    },
    prefix: 'chmod 600',
    argv: () => ['chmod', '600', path.join(state.root, "my key $(touch pwned) it's.asc")],
  },
];

describe('every suggested command reads back, in a POSIX shell, as the argv it means', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const text = await row.run();
    const argv = row.argv(state);
    const commands = commandsAt(text, row.prefix, argv.length);
    expect({ text, found: commands.length > 0 }).toEqual({ text, found: true });
    for (const c of commands) expect(c).toEqual({ words: argv.slice(0, 'words' in c ? Math.max(c.words.length, argv.length) : argv.length) });
  });
});

describe('the shell-word reader the rows rely on', () => {
  it.each([
    ["infra env add x 'a b' --y", 4, ['infra', 'env', 'add', 'x']],
    [`a 'it'\\''s' "q\\$" b\\ c; d`, 10, ['a', "it's", 'q$', 'b c']],
    ['cmd x  # a comment', 10, ['cmd', 'x']],
    ['cmd `x` y', 10, ['cmd']],
  ] as const)('%j → %j', (text, max, words) => {
    expect(shellWords(text, max)).toEqual({ words });
  });

  it.each([[HOSTILE_PATH, HOST_PATTERN, HOSTILE_IFACE], ["it's", '"q" $x `id`', 'a\\b', '~root', '-n']])('agrees with a real /bin/sh on quoted words %j', (...words) => {
    const line = shellCommand(['printf', '%s\\0', ...words]);
    const sh = spawnSync('/bin/sh', ['-c', line], { encoding: 'utf8', timeout: 10_000 });
    expect(sh.stdout.split('\0').slice(0, -1)).toEqual(words);
    expect(shellWords(line)).toEqual({ words: ['printf', '%s\\0', ...words] });
  });

  it.each(['cmd web*', 'cmd !db', 'cmd $(id)', 'cmd "$(id)"', 'cmd ~root', "cmd 'open", 'cmd x{a,b}'])('refuses %j: a shell would expand or misread it', (text) => {
    expect(shellWords(text)).toHaveProperty('error');
  });
});
