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

describe('runSync (tests)', () => {
  it('stops a program that does not finish in time and names it', () => {
    expect(() => runSync(node, ['-e', HANG], { timeoutMs: 200 })).toThrow(`${node} -e ${HANG} did not finish within 0.2s`);
  });

  it('with check, fails on a non-zero exit showing the output', () => {
    expect(() => runSync(node, ['-e', 'console.log("out"); process.exit(2)'], { check: true })).toThrow(/exited 2:\nout/);
    expect(runSync(node, ['-e', 'process.exit(2)']).code).toBe(2);
  });
});
