/**
 * hole 2 and docs/reference.md, "Render": nothing read back from a previous generated file is trusted. A planted user
 * name or line (a Jinja2 template that the playbook would run on the controller, a line that is not a key)
 * is dropped with a warning naming the file, never carried into the next render, and the file counts as
 * changed (so `render --check` fails). And: a host still in the inventory that no grant reaches any more
 * keeps a file listing its previous keys under infra_revoked_keys only.
 */
import { parse } from 'yaml';
import { parseYamlInventory } from '../../src/core/inventory.js';
import { HEADER, planRender } from '../../src/core/render.js';
import { DEFAULT_POLICY, type InfraConfig, type Member, type Registry } from '../../src/core/types.js';
import { ed25519Line, keyBody, rsaLine } from '../helpers/registry-fixture.js';

const inventory = (hosts: string[]) => parseYamlInventory(`all:\n  hosts:\n${hosts.map((h) => `    ${h}:\n`).join('')}`, 'inventories/production/hosts.yml');

const A = keyBody(ed25519Line('alice'));
const B = keyBody(ed25519Line('bob'));
const PLANT = "{{ lookup('pipe', 'touch /tmp/infra-planted') }}";

function member(handle: string, over: Partial<Member>): Member {
  return { handle, name: handle, kind: 'human', org: 'o', status: 'active', groups: [], ssh_keys: [], vpn_peers: [], tokens: [], has_pgp: false, ...over };
}
const config = (access: InfraConfig['access']): InfraConfig => ({ org: 'T', admins: [], environments: { production: 'inventories/production' }, policy: DEFAULT_POLICY, access, vpn: {} });
const alice = member('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: `${A} a`, added: '2026-01-01' }] });
const granted: Registry = { root: '/x', config: config([{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }]), members: [alice] };
const nobodyGranted: Registry = { root: '/x', config: config([]), members: [alice] };
const BBB1 = 'inventories/production/host_vars/bbb1/infra.generated.yml';
const OTHER = 'inventories/production/host_vars/other/infra.generated.yml';

const yamlQuote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const fileWith = (revokedBlock: string) =>
  `${HEADER}\ninfra_authorized_keys:\n  sysadmin:\n    - '${A} alice/laptop'\ninfra_revoked_keys:\n${revokedBlock}`;

describe('a previous generated file is read as untrusted input', () => {
  const inv = { production: inventory(['bbb1']) };

  it.each([
    ['a Jinja2 template as a user name (the reported attack)', `  ${yamlQuote(PLANT)}:\n    - '${B} bob/laptop'\n`, /remote user/],
    ['a user name that is not a Unix user name', `  'Root Admin':\n    - '${B} bob/laptop'\n`, /remote user/],
    ['a Jinja2 template as a line', `  deploy:\n    - ${yamlQuote(PLANT)}\n`, /line of deploy/],
    ['a Jinja2 statement inside a key comment', `  deploy:\n    - '${B} {% raw %}x'\n`, /line of deploy/],
    ['a line that is not a key', `  deploy:\n    - 'ssh-ed25519 AAAAnotakey bob/laptop'\n`, /line of deploy/],
  ])('%s: dropped with a warning, nothing of it rendered, and the file counts as changed', (_, block, warned) => {
    const previous = new Map([[BBB1, fileWith(block)]]);
    const plan = planRender(granted, inv, previous);
    const out = plan.files.get(BBB1)!;
    expect(out).not.toMatch(/\{[{%#]/);
    expect(out).not.toContain('Root Admin');
    expect(out).not.toContain('AAAAnotakey');
    expect(plan.unchanged).toBe(0);
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toMatch(new RegExp(`^${BBB1}: dropped`));
    expect(plan.warnings[0]).toMatch(warned);
    // and what was dropped stays dropped: the next render, over this output, is stable and silent
    const again = planRender(granted, inv, new Map([[BBB1, out]]));
    expect(again.warnings).toEqual([]);
    expect(again.unchanged).toBe(1);
  });

  it('keeps a real key the previous file listed for a valid user, rebuilt from the parsed key (canonical, bare)', () => {
    const previous = new Map([[BBB1, fileWith(`  deploy:\n    - 'no-pty,command="/bin/sh" ${B} {{bob}}'\n    - 'from="10.0.0.0/8" ${B} bob/laptop'\n`)]]);
    const plan = planRender(granted, inv, previous);
    const data = parse(plan.files.get(BBB1)!);
    // the templated comment is refused whole; the other copy of the key is kept as a bare revoked line
    expect(data.infra_revoked_keys).toEqual({ deploy: [`${B} bob/laptop`] });
    expect(plan.warnings).toEqual([expect.stringMatching(/^inventories\/production\/host_vars\/bbb1\/infra\.generated\.yml: dropped a line of deploy: "no-pty/)]);
  });

  it('warnings show what was dropped inertly: escaped, cut short, one line', () => {
    const hostile = `'x\u202e\u0007${'y'.repeat(200)}':\n    - '${B} bob/laptop'\n`;
    const plan = planRender(granted, inv, new Map([[BBB1, fileWith(`  ${hostile}`)]]));
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toMatch(/^[\x20-\x7e]+$/);
    expect(plan.warnings[0]).toContain('\\u202e');
    expect(plan.warnings[0].length).toBeLessThan(300);
  });

  it('a previous file that is not YAML: nothing carried, a warning names it', () => {
    const plan = planRender(granted, inv, new Map([[BBB1, 'infra_revoked_keys: [unclosed\n  x: {']]));
    expect(plan.warnings).toEqual([`${BBB1}: not YAML infra could read: nothing in it is carried over`]);
    expect(parse(plan.files.get(BBB1)!).infra_revoked_keys).toEqual({});
  });

  it('an RSA key written padded in a previous file is revoked in canonical form and as written', () => {
    const rsa = keyBody(rsaLine(2048));
    const [type, data] = rsa.split(' ');
    const blob = Buffer.from(data, 'base64');
    // pad the exponent (the first mpint after the type string) with one leading zero byte
    const typeLen = blob.readUInt32BE(0);
    const eAt = 4 + typeLen;
    const eLen = blob.readUInt32BE(eAt);
    const padded = Buffer.concat([blob.subarray(0, eAt), Buffer.from([0, 0, 0, eLen + 1, 0]), blob.subarray(eAt + 4)]).toString('base64');
    const plan = planRender(granted, inv, new Map([[BBB1, fileWith(`  deploy:\n    - '${type} ${padded} mallory/k'\n`)]]));
    expect(parse(plan.files.get(BBB1)!).infra_revoked_keys.deploy.sort()).toEqual([`${type} ${data} mallory/k`, `${type} ${padded} mallory/k`].sort());
  });
});

describe('a host no grant reaches any more (docs/reference.md, "Render")', () => {
  const inv = { production: inventory(['bbb1', 'other']) };

  it('keeps a file listing its previous keys under infra_revoked_keys only, stably, until it leaves the inventory', () => {
    const first = planRender(granted, inv, new Map());
    expect(parse(first.files.get(OTHER)!).infra_authorized_keys).toEqual({ sysadmin: [`${A} alice/laptop`] });

    const ungranted = planRender(nobodyGranted, inv, first.files);
    const text = ungranted.files.get(OTHER)!;
    expect(parse(text)).toEqual({ infra_revoked_keys: { sysadmin: [`${A} alice/laptop`] } });
    expect(text).not.toContain('infra_authorized_keys');
    expect(ungranted.remove).toEqual([]);

    // rendering twice changes nothing
    const twice = planRender(nobodyGranted, inv, ungranted.files);
    expect(twice.files).toEqual(ungranted.files);
    expect(twice.unchanged).toBe(2);

    // gone from the inventory: the file goes
    const gone = planRender(nobodyGranted, { production: inventory(['bbb1']) }, ungranted.files);
    expect(gone.files.has(OTHER)).toBe(false);
    expect(gone.remove).toEqual([OTHER]);
  });

  it('a previous file that listed no key, or only junk, is removed (with a warning for the junk)', () => {
    const empty = `${HEADER}\ninfra_authorized_keys: {}\ninfra_revoked_keys: {}\n`;
    const junk = `${HEADER}\ninfra_revoked_keys:\n  ${yamlQuote(PLANT)}:\n    - '${B} bob/laptop'\n`;
    const plan = planRender(nobodyGranted, inv, new Map([[BBB1, empty], [OTHER, junk]]));
    expect(plan.files.size).toBe(0);
    expect(plan.remove).toEqual([BBB1, OTHER]);
    expect(plan.warnings).toEqual([expect.stringMatching(/^inventories\/production\/host_vars\/other\/infra\.generated\.yml: dropped the remote user/)]);
  });
});
