/**
 * Issue 10, hostile strings x outputs, with the real `ansible-inventory --list`: every case of
 * test/core/hostile-strings.test.ts that was accepted at input is rendered, all of them into one inventory
 * (one host per case), and Ansible must read each host's variables exactly as infra's own YAML reader
 * does: no extra variable, no split line, no key that is not a Unix user name.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { mustRun } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';
import { FIELDS, HOSTILE, runCase } from '../core/hostile-strings-cases.js';

const ready = requireTool('ansible-inventory', 'ansible');

(ready ? describe : describe.skip)('hostile strings, as the real ansible-inventory reads the rendered files', () => {
  it('every accepted case reads back as infra wrote it', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-hostile-'));
    try {
      const expected: Record<string, unknown> = {};
      let n = 0;
      for (const field of FIELDS)
        for (const [label, value] of Object.entries(HOSTILE)) {
          const r = runCase(field, label, value);
          if (r.outcome !== 'inert') continue;
          for (const text of r.rendered!.values()) {
            const host = `case${n++}`;
            await fs.mkdir(path.join(tmp, 'host_vars', host), { recursive: true });
            await fs.writeFile(path.join(tmp, 'host_vars', host, 'infra.generated.yml'), text);
            expected[host] = parse(text);
          }
        }
      expect(n).toBeGreaterThan(20);
      await fs.writeFile(path.join(tmp, 'hosts.yml'), `all:\n  hosts:\n${Object.keys(expected).map((h) => `    ${h}:\n`).join('')}`);
      const out = JSON.parse(mustRun('ansible-inventory', ['-i', path.join(tmp, 'hosts.yml'), '--list'], { env: { ...process.env, ANSIBLE_NOCOLOR: '1' }, timeoutMs: 120_000 }));
      for (const [host, vars] of Object.entries(expected)) expect([host, out._meta.hostvars[host]]).toEqual([host, vars]);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});
