/**
 * The override guard sees vars files as Ansible does (docs/reference.md "Vars files infra reads"), in render,
 * audit and check:
 *  - an infra_* variable brought by a YAML merge key, in any spelling, is refused by render and reported by audit;
 *  - a vars file infra cannot read (one PyYAML reads and the `yaml` package does not, a whole-file vault,
 *    several documents, not UTF-8) is refused naming its line, never taken as defining nothing;
 *  - 150 aliases of one anchor (Ansible loads it) crash nothing;
 *  - files Ansible does not load (hidden, backups, other extensions, names of no host or group) are not refused;
 *  - a symbolic link anywhere under host_vars/ or group_vars/, inside the registry or out, is refused by
 *    render (nothing written through it) and reported by check and audit.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runAudit } from '../../src/services/audit.js';
import { checkRegistry } from '../../src/services/registry.js';
import { render } from '../../src/services/render.js';
import { testContext } from '../helpers/context.js';
import { baseConfig, ed25519Line, keyBody, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { rejection } from '../helpers/thrown.js';

const A = keyBody(ed25519Line('alice'));
const INV = 'inventories/production';
const gen = (host: string) => `${INV}/host_vars/${host}/infra.generated.yml`;
const HOSTS = 'all:\n  hosts:\n    bbb1:\n    web1:\n  children:\n    bbb:\n      hosts:\n        bbb1:\n';

const registry = (files: Record<string, string | Uint8Array> = {}) =>
  makeRegistry({
    config: baseConfig({ access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }] }),
    members: { alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: `${A} a`, added: '2026-01-01' }] }) },
    files: { [`${INV}/hosts.yml`]: HOSTS },
  }).then(async (root) => {
    for (const [rel, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await fs.writeFile(path.join(root, rel), content);
    }
    return root;
  });

const MALLORY = "{sysadmin: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMallory mallory/laptop']}";

describe('render refuses an infra_* variable however YAML spells it', () => {
  it.each([
    ['a merge key with a mapping', `<<: {infra_authorized_keys: ${MALLORY}}\nbbb_tuning: 1\n`],
    ['a merge key with an alias', `base: &b {infra_authorized_keys: ${MALLORY}}\n<<: *b\n`],
    ['a merge key with a list of aliases', `a: &a {x: 1}\nb: &b {infra_authorized_keys: ${MALLORY}}\n<<: [*a, *b]\n`],
    ['a merged mapping that merges another', `a: &a {<<: {infra_authorized_keys: ${MALLORY}}}\n<<: *a\n`],
    ['a key tagged !!merge', `a: &a {infra_authorized_keys: ${MALLORY}}\n!!merge anything: *a\n`],
    ['a double-quoted key with an escape', `"infra\\u005fauthorized_keys": ${MALLORY}\n`],
    ['a key tagged !!str', `!!str infra_authorized_keys: ${MALLORY}\n`],
    ['a key tagged !unsafe', `!unsafe infra_authorized_keys: ${MALLORY}\n`],
    ['a duplicate key (the last wins in Ansible)', `infra_authorized_keys: {}\ninfra_authorized_keys: ${MALLORY}\n`],
  ])('%s: exit 3 naming the file and infra_authorized_keys', async (_, text) => {
    const file = `${INV}/host_vars/bbb1/zz-tuning.yml`;
    const root = await registry({ [file]: text });
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems).toEqual([expect.objectContaining({ file, field: 'infra_authorized_keys' })]);
    await expect(fs.access(path.join(root, gen('bbb1')))).rejects.toThrow();
    const audit = await runAudit(testContext({ root }));
    expect(audit.findings.filter((f) => f.code === 'shadowed-render').map((f) => [f.subject, f.detail.includes('infra_authorized_keys')])).toEqual([[file, true]]);
    expect((await checkRegistry(testContext({ root }))).problems).toEqual([expect.objectContaining({ file, field: 'infra_authorized_keys' })]);
  });
});

describe('host_vars/ and group_vars/ beside the playbooks (ansible-playbook loads them over the inventory\'s)', () => {
  it.each([
    ['ansible/host_vars/bbb1.yml', 'infra_authorized_keys'],
    ['ansible/group_vars/all/x.yml', 'infra_revoked_keys'],
  ])('%s: render refuses it, also after a render that found nothing to do; check and audit report it', async (file, variable) => {
    const root = await registry();
    process.env.INFRA_CACHE_MIN_MEMBERS = '0'; // the render stamp is kept: the guard must not be skipped by it
    try {
      await render(testContext({ root }), {});
      expect((await render(testContext({ root }), {})).written).toEqual([]); // stamped: nothing to do
      await fs.mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await fs.writeFile(path.join(root, file), `${variable}: ${MALLORY}\n`);
      const e = await rejection(render(testContext({ root }), {}));
      expect(e.exitCode).toBe(3);
      expect(e.problems).toEqual([expect.objectContaining({ file, field: variable })]);
      expect((await checkRegistry(testContext({ root }))).problems).toEqual([expect.objectContaining({ file, field: variable })]);
      const audit = await runAudit(testContext({ root }));
      expect(audit.findings.filter((f) => f.code === 'shadowed-render').map((f) => f.subject)).toEqual([file]);
    } finally {
      delete process.env.INFRA_CACHE_MIN_MEMBERS;
    }
  });

  it('a link in ansible/host_vars/ is refused like one beside the inventory', async () => {
    const root = await registry();
    await fs.mkdir(path.join(root, 'ansible/host_vars'), { recursive: true });
    await fs.symlink('/etc/hostname', path.join(root, 'ansible/host_vars/bbb1.yml'));
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.problems.map((p) => [p.file, p.field])).toEqual([['ansible/host_vars/bbb1.yml', '(link)']]);
  });
});

describe('a vars file infra cannot read is refused, never taken as defining nothing', () => {
  it.each([
    ['one PyYAML reads and the yaml package does not', `${INV}/host_vars/bbb1/zz.yml`, `infra_authorized_keys: ${MALLORY}\nbbb_rooms: [1]#max\n`, 2, /is not YAML infra can read/],
    ['a whole-file vault', `${INV}/group_vars/all/vault.yml`, '$ANSIBLE_VAULT;1.1;AES256\n61626364\n', undefined, /encrypted as a whole with ansible-vault/],
    ['several documents', `${INV}/group_vars/bbb.yml`, 'a: 1\n---\ninfra_authorized_keys: {}\n', 2, /several YAML documents/],
    ['not UTF-8', `${INV}/host_vars/web1.yml`, Buffer.from('# caf\xe9\ninfra_authorized_keys: {}\n', 'latin1'), undefined, /not valid UTF-8/],
  ])('%s: render exits 3 naming file and line, audit reports it', async (_, file, content, line, message) => {
    const root = await registry({ [file]: content });
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems).toEqual([expect.objectContaining({ file, field: '(vars file)', message: expect.stringMatching(message) })]);
    expect(e.problems[0].line).toBe(line);
    await expect(fs.access(path.join(root, gen('bbb1')))).rejects.toThrow();
    const audit = await runAudit(testContext({ root }));
    expect(audit.findings.filter((f) => f.code === 'shadowed-render').map((f) => f.subject)).toEqual([file]);
    expect((await checkRegistry(testContext({ root }))).problems).toEqual([expect.objectContaining({ file, field: '(vars file)' })]);
  });

  it('a vars file over the size limit is refused by name without being read (a sparse 17 MB file)', async () => {
    const file = `${INV}/group_vars/all/huge.yml`;
    const root = await registry({ [file]: 'x: 1\n' });
    await fs.truncate(path.join(root, file), 17 * 1024 * 1024);
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems).toEqual([expect.objectContaining({ file, message: expect.stringMatching(/^is larger than 16 MB/) })]);
  });

  it('a FIFO named like a host\'s vars file is refused without being opened (reading it would hang)', async () => {
    const root = await registry({ [`${INV}/host_vars/.keep`]: '' });
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [path.join(root, `${INV}/host_vars/web1.yml`)], { timeout: 10_000 });
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.problems).toEqual([expect.objectContaining({ file: `${INV}/host_vars/web1.yml`, message: expect.stringMatching(/^is not a regular file/) })]);
  });

  it('150 aliases of one anchor (Ansible loads it): render and audit go on, no crash', async () => {
    const aliases = `x: &x {a: 1}\n${Array.from({ length: 150 }, (_, i) => `v${i}: *x`).join('\n')}\n`;
    const root = await registry({ [`${INV}/group_vars/all/x.yml`]: aliases });
    expect((await render(testContext({ root }), {})).written).toEqual([gen('bbb1'), gen('web1')]);
    const audit = await runAudit(testContext({ root }));
    expect(audit.findings.filter((f) => f.code === 'shadowed-render' || f.code === 'invalid-registry')).toEqual([]);
  });
});

describe('files Ansible does not load are not refused', () => {
  it('hidden files, backups, other extensions, folders with an extension, names of no host or group', async () => {
    const text = `infra_authorized_keys: ${MALLORY}\n`;
    const root = await registry({
      [`${INV}/host_vars/bbb1/.hidden.yml`]: text,
      [`${INV}/host_vars/bbb1/zz.yml~`]: text,
      [`${INV}/host_vars/bbb1/notes.txt`]: 'not: [yaml',
      [`${INV}/host_vars/bbb1/old.d/x.yml`]: text,
      [`${INV}/host_vars/ghost.yml`]: text,
      [`${INV}/group_vars/README.md`]: '# infra_authorized_keys: notes\n',
      [`${INV}/group_vars/web.yml`]: text, // no group "web" in this inventory
    });
    expect((await render(testContext({ root }), {})).written).toEqual([gen('bbb1'), gen('web1')]);
  });
});

describe('symbolic links under host_vars/ and group_vars/', () => {
  it('host_vars/bbb1 linked to web1 inside the registry: render exits 3 and writes nothing; check and audit report it', async () => {
    const root = await registry();
    await render(testContext({ root }), {});
    const web1Before = await fs.readFile(path.join(root, gen('web1')), 'utf8');
    await fs.rm(path.join(root, `${INV}/host_vars/bbb1`), { recursive: true });
    await fs.symlink('web1', path.join(root, `${INV}/host_vars/bbb1`));
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems).toEqual([expect.objectContaining({ file: `${INV}/host_vars/bbb1`, field: '(link)' })]);
    expect(await fs.readFile(path.join(root, gen('web1')), 'utf8')).toBe(web1Before);
    expect((await checkRegistry(testContext({ root }))).problems).toEqual([expect.objectContaining({ file: `${INV}/host_vars/bbb1`, field: '(link)' })]);
    const audit = await runAudit(testContext({ root }));
    expect(audit.findings.filter((f) => f.code === 'invalid-registry').map((f) => f.subject)).toEqual([`${INV}/host_vars/bbb1 (link)`]);
  });

  it.each([
    ['a file in group_vars/all/ linked inside the registry', `${INV}/group_vars/all/shared.yml`, '../../hosts.yml'],
    ['group_vars/ itself linked out of the registry', `${INV}/group_vars`, '/tmp'],
    ['a hidden link (Ansible skips it, infra still refuses it)', `${INV}/host_vars/bbb1/.x`, '/etc/passwd'],
    ['a dangling link', `${INV}/host_vars/web1.yml`, 'nowhere.yml'],
  ])('%s: render exits 3 naming it; check reports it', async (_, link, target) => {
    const root = await registry();
    await fs.mkdir(path.dirname(path.join(root, link)), { recursive: true });
    await fs.symlink(target, path.join(root, link));
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems.map((p) => p.file)).toContain(link);
    expect((await checkRegistry(testContext({ root }))).problems.map((p) => p.file)).toContain(link);
    const audit = await runAudit(testContext({ root }));
    expect(audit.findings.filter((f) => f.code === 'invalid-registry').map((f) => f.subject)).toContain(`${link} (link)`);
  });

  it('host_vars/bbb1 linked out of the registry: audit reports it and goes on (it stopped with exit 3)', async () => {
    const root = await registry();
    await render(testContext({ root }), {});
    await fs.rm(path.join(root, `${INV}/host_vars/bbb1`), { recursive: true });
    await fs.symlink('/tmp', path.join(root, `${INV}/host_vars/bbb1`));
    const audit = await runAudit(testContext({ root }));
    expect(audit.findings.filter((f) => f.code === 'invalid-registry').map((f) => f.subject)).toEqual([`${INV}/host_vars/bbb1 (link)`]);
  });
});
