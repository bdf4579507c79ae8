/**
 * Secrets on disk (campaign): infra warns, as ssh does, when a secret file it reads is readable by
 * others; a file it writes with a private key in it is 0600 from its first byte, never briefly world-readable.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readVaultPasswordFile } from '../../src/adapters/ansible-vault.js';
import { readableByOthersWarning, warnIfReadableByOthers } from '../../src/adapters/secret-files.js';
import { copyExample, REPO_ROOT, tempDir } from '../helpers/example.js';

describe('warnIfReadableByOthers', () => {
  it('warns for group- or world-readable files with the chmod that fixes it; quiet for 0600 and 0400', async () => {
    const dir = await tempDir();
    const cases: Array<[number, string | undefined]> = [
      [0o600, undefined],
      [0o400, undefined],
      [0o700, undefined],
      [0o640, 'its group'],
      [0o604, 'everyone'],
      [0o644, 'everyone'],
      [0o660, 'its group'],
    ];
    for (const [mode, who] of cases) {
      const file = path.join(dir, `key-${mode.toString(8)}`);
      await fs.writeFile(file, 'secret');
      await fs.chmod(file, mode);
      const said: string[] = [];
      const warned = await warnIfReadableByOthers(file, (w) => said.push(w), 'private key file');
      expect({ mode: mode.toString(8), warned, said }).toEqual({
        mode: mode.toString(8),
        warned: who !== undefined,
        said: who ? [`private key file ${file} is readable by ${who} (mode ${mode.toString(8)}): chmod 600 ${file}`] : [],
      });
    }
  });

  it('follows a link to the file it names; a missing file or a folder is left to the read', async () => {
    const dir = await tempDir();
    const target = path.join(dir, 'pw');
    await fs.writeFile(target, 'secret', { mode: 0o644 });
    await fs.chmod(target, 0o644);
    await fs.symlink(target, path.join(dir, 'link'));
    const said: string[] = [];
    expect(await warnIfReadableByOthers(path.join(dir, 'link'), (w) => said.push(w))).toBe(true);
    expect(await warnIfReadableByOthers(path.join(dir, 'missing'), (w) => said.push(w))).toBe(false);
    expect(await warnIfReadableByOthers(dir, (w) => said.push(w))).toBe(false);
    expect(said).toHaveLength(1);
    expect(readableByOthersWarning('f', 0o100600)).toBeUndefined();
  });

  it('readVaultPasswordFile uses it: a 0644 password file gives the warning, the password is still read', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'vault-pass');
    await fs.writeFile(file, 'hunter2-but-longer\n');
    await fs.chmod(file, 0o644);
    const r = await readVaultPasswordFile(file);
    expect(r.password.toString()).toBe('hunter2-but-longer');
    expect(r.warnings).toEqual([`vault password file ${file} is readable by everyone (mode 644): chmod 600 ${file}`]);
  });
});

describe('files infra writes with private material', () => {
  /** Run `infra vpn join --out FILE --force` and SIGKILL it just before the rename that writes FILE; returns the temp file's mode. */
  async function modeOfTempBeforeRename(dir: string, out: string): Promise<number | undefined> {
    for (let nth = 1; nth <= 4; nth++) {
      const paused = await new Promise<string | undefined>((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/run.js'), 'vpn', 'join', 'dana', '--device', `tablet${nth}`, '--out', out, '--force', '--dir', dir], {
          env: { ...process.env, NO_COLOR: '1', INFRA_TEST_PAUSE_AT: `before-rename#${nth}` },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        let at: string | undefined;
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.stderr.on('data', (d) => {
          stderr += d;
          const m = /infra-test-paused-at before-rename (.*)\n/.exec(stderr);
          if (m && at === undefined) {
            at = m[1];
            child.kill('SIGKILL');
          }
        });
        child.on('error', reject);
        child.on('close', () => {
          clearTimeout(timer);
          resolve(at);
        });
      });
      if (paused === undefined) return undefined;
      if (paused === out) {
        const temps = (await fs.readdir(path.dirname(out))).filter((f) => f.endsWith('.tmp'));
        expect(temps).toHaveLength(1);
        return (await fs.stat(path.join(path.dirname(out), temps[0]))).mode & 0o777;
      }
    }
    return undefined;
  }

  it('vpn join --out --force over a 0644 file: the config (private key) is 0600 already in its temporary file, and after', async () => {
    const dir = await copyExample();
    const outDir = await tempDir();
    const out = path.join(outDir, 'dana.conf');
    await fs.writeFile(out, 'old');
    await fs.chmod(out, 0o644);
    expect(await modeOfTempBeforeRename(dir, out)).toBe(0o600);

    const done = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/run.js'), 'vpn', 'join', 'dana', '--device', 'laptop9', '--out', out, '--force', '--dir', dir], { stdio: 'ignore', timeout: 60_000 });
      child.on('close', (code) => resolve(code ?? -1));
    });
    expect(done).toBe(0);
    expect(await fs.readFile(out, 'utf8')).toMatch(/^PrivateKey = /m);
    expect((await fs.stat(out)).mode & 0o777).toBe(0o600);
  });
});
