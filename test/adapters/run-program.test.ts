import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runProgram } from '../../src/adapters/run-program.js';
import { InfraError } from '../../src/lib/errors.js';
import { runSync } from '../helpers/program.js';

const node = process.execPath;
const HANG = 'setInterval(() => {}, 1000)';

describe('runProgram', () => {
  it('passes stdin and returns stdout, stderr and the exit code', async () => {
    const r = await runProgram(node, ['-e', 'process.stdin.pipe(process.stdout); console.error("note"); process.exitCode = 3'], { input: 'hello' });
    expect(r).toEqual({ stdout: 'hello', stderr: 'note\n', code: 3 });
  });

  it('reports a missing program as exit 5 with the install hint', async () => {
    const err = await runProgram('infra-no-such-program-xyz', [], { installHint: 'apt-get install xyz' }).catch((e) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ exitCode: 5, message: 'infra-no-such-program-xyz is not installed', hint: 'apt-get install xyz' });
  });

  it('stops a program that does not finish in time and names it', async () => {
    const err = await runProgram(node, ['-e', HANG], { timeoutMs: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(`${node} -e ${HANG} did not finish within 0.2s and was stopped`);
  });
});

describe('runProgram with newSession', () => {
  /** Dead or a zombie waiting to be reaped (kill(pid, 0) still succeeds on those). */
  const gone = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z';
    } catch {
      return true;
    }
  };

  it('runs the program as the leader of its own session, away from the terminal', async () => {
    const r = await runProgram(node, ['-e', 'const f = require("fs").readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" "); console.log(process.pid, f[3])'], { newSession: true });
    const [pid, session] = r.stdout.trim().split(' ');
    expect(session).toBe(pid);
  });

  it('a timeout kills what the program started too (ansible\'s ssh processes)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infra-run-'));
    const pidFile = path.join(dir, 'grandchild.pid');
    try {
      // The program starts a long-lived child of its own, notes its pid, then hangs.
      const script = `const c = require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }); require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setInterval(() => {}, 1000)`;
      const err = await runProgram(node, ['-e', script], { newSession: true, timeoutMs: 1500 }).catch((e) => e);
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toMatch(/did not finish within 1.5s/);
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      expect(grandchild).toBeGreaterThan(0);
      // SIGKILL went to the whole group; wait (bounded) for the kernel to finish it off.
      const deadline = Date.now() + 5000;
      while (!gone(grandchild) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(gone(grandchild)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runSync (tests)', () => {
  it('stops a program that does not finish in time and names it', () => {
    expect(() => runSync(node, ['-e', HANG], { timeoutMs: 200 })).toThrow(`${node} -e ${HANG} did not finish within 0.2s`);
  });

  it('with check, fails on a non-zero exit showing the output', () => {
    expect(() => runSync(node, ['-e', 'console.log("out"); process.exit(2)'], { check: true })).toThrow(/exited 2:\nout/);
    expect(runSync(node, ['-e', 'process.exit(2)']).code).toBe(2);
  });
});
