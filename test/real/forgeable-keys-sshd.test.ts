/**
 * Keys anyone can forge really log in: a real sshd 9.2 and the real `ssh`, whose only agent holds no
 * private key and computes each signature from the public key alone (test/helpers/forging-agent.ts).
 * With an RSA key of exponent 1 (4096-bit modulus) or an Ed25519 key whose point is the identity in
 * authorized_keys, the login works; the same forgery for an ordinary Ed25519 key is refused (the control).
 * ssh-keygen -l reads both keys (they are keys to OpenSSH) exactly as infra shows them, and infra refuses
 * both: keys add (policy), keys check (ok: false, with the reason).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkAuthorizedKeys, parsePublicKey, policyProblems, sshKeygenLine } from '../../src/core/ssh-key.js';
import { DEFAULT_POLICY } from '../../src/core/types.js';
import { identityStyleSignature, startForgingAgent, type ForgingAgent } from '../helpers/forging-agent.js';
import { ed25519LineOf, realModulus, rsaLineOf } from '../helpers/forgeable-keys.js';
import { ed25519Line } from '../helpers/keys.js';
import { mustRun } from '../helpers/program.js';
import { isRoot, requireTool } from '../helpers/real-tools.js';
import { sshLogin } from '../helpers/sshd-probe.js';
import { createUser, removeUser, startSshd, type Sshd } from '../helpers/sshd.js';

const ready = [requireTool('/usr/sbin/sshd', 'openssh-server'), requireTool('ssh', 'openssh-client'), requireTool('ssh-keygen', 'openssh-client'), requireTool('useradd', 'passwd')].every(Boolean) && isRoot();
const d = ready ? describe : describe.skip;

const identity = Buffer.alloc(32);
identity[0] = 1;
const blobOf = (line: string) => Buffer.from(line.split(' ')[1], 'base64');
const policy = { ...DEFAULT_POLICY.ssh, allowed_types: [...DEFAULT_POLICY.ssh.allowed_types, 'rsa' as const] };

d('forgeable keys against a real sshd', () => {
  const user = `infra-fk-${randomBytes(3).toString('hex')}`;
  let created = false;
  let tmp: string;
  let home: string;
  let sshd: Sshd | undefined;
  const agents: ForgingAgent[] = [];
  const forged: Record<string, string> = {};

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-fk-'));
    home = createUser(user, () => (created = true));
    await fs.mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o755 });
    forged['RSA e=1, 4096-bit modulus'] = rsaLineOf(1n, realModulus(4096), 'forged-rsa');
    forged['Ed25519 identity point'] = ed25519LineOf(identity, 'forged-ed25519');
    sshd = await startSshd([user]);
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) await a.close();
    await sshd?.stop();
    if (created) removeUser(user);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  /** Writes the line as the user's only key, then logs in with an agent offering only that key. */
  async function loginWith(line: string, sign?: (blob: Buffer, data: Buffer, flags: number) => Buffer | undefined) {
    await fs.writeFile(path.join(home, '.ssh', 'authorized_keys'), `${line}\n`);
    const agent = await startForgingAgent(path.join(tmp, `agent-${agents.length}.sock`), [blobOf(line)], sign);
    agents.push(agent);
    const r = await sshLogin(user, sshd!.port, ['-o', `IdentityAgent=${agent.socket}`, '-o', 'IdentitiesOnly=no', '-o', 'IdentityFile=none'], { ...process.env, SSH_AUTH_SOCK: agent.socket });
    return { ...r, signed: agent.signed() };
  }

  it.each(['RSA e=1, 4096-bit modulus', 'Ed25519 identity point'])('%s: a signature made from the public key alone logs in', async (name) => {
    const r = await loginWith(forged[name]);
    expect({ ok: r.ok, signed: r.signed > 0 }).toEqual({ ok: true, signed: true });
  }, 60_000);

  it('the control: the same forgery for an ordinary Ed25519 key is refused', async () => {
    const r = await loginWith(ed25519Line('ordinary'), identityStyleSignature);
    expect({ ok: r.ok, signed: r.signed > 0 }).toEqual({ ok: false, signed: true });
  }, 60_000);

  it.each(['RSA e=1, 4096-bit modulus', 'Ed25519 identity point'])('%s: ssh-keygen -l reads it as infra shows it, and infra refuses it', async (name) => {
    const file = path.join(tmp, `${name.replace(/\W+/g, '-')}.pub`);
    await fs.writeFile(file, `${forged[name]}\n`);
    const key = parsePublicKey(forged[name]);
    expect(mustRun('ssh-keygen', ['-l', '-f', file]).trim()).toBe(sshKeygenLine(key));
    expect(policyProblems(key, policy)).toEqual([expect.stringMatching(/anyone can (sign|make signatures)/)]);
    const report = checkAuthorizedKeys(`${forged[name]}\n`, policy);
    expect(report.keys.map((k) => k.ok)).toEqual([false]);
    // an ordinary key of the same type passes the same policy
    const ordinary = name.startsWith('RSA') ? rsaLineOf(65537n, realModulus(3072)) : ed25519Line('ok');
    expect(policyProblems(parsePublicKey(ordinary), policy)).toEqual([]);
  }, 60_000);
});
