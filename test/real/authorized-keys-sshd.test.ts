/**
 * infra reads authorized_keys as sshd does: one real sshd 9.2, one throwaway user, and for each form below
 * the user's authorized_keys is rewritten, a real `ssh` tries to log in (with the plain key, and for
 * cert-authority forms with a certificate the key signed), and sshd's own log says which lines it matched.
 * infra's parseAuthorizedKeys must see a key on exactly those lines, and every login that worked must be
 * through a line infra sees as a key that grants (no login problem).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAuthorizedKeys } from '../../src/core/authorized-keys.js';
import { loginProblems } from '../../src/core/key-options.js';
import { mustRun } from '../helpers/program.js';
import { isRoot, requireTool } from '../helpers/real-tools.js';
import { attempt, sshLogin, type Attempt } from '../helpers/sshd-probe.js';
import { createUser, removeUser, sshKeygen, startSshd, type Sshd } from '../helpers/sshd.js';

const ready = [requireTool('/usr/sbin/sshd', 'openssh-server'), requireTool('ssh', 'openssh-client'), requireTool('ssh-keygen', 'openssh-client'), requireTool('useradd', 'passwd')].every(Boolean) && isRoot();
const d = ready ? describe : describe.skip;

/** A form: the file's text, built from the key's type, base64 and the user name; `ca`: also try a certificate login. */
type Form = [name: string, text: (k: { type: string; b64: string; user: string; cert: string }) => string, ca?: boolean];

const line = (k: { type: string; b64: string }) => `${k.type} ${k.b64} alice@laptop`;

const FORMS: Form[] = [
  ['a plain key', (k) => line(k)],
  // what comes before a line changes nothing for sshd
  ['after a stray RFC 4716 BEGIN line', (k) => `---- BEGIN SSH2 PUBLIC KEY ----\nrestrict,pty ${line(k)}`],
  ['after a stray private key BEGIN line', (k) => `-----BEGIN OPENSSH PRIVATE KEY-----\nrestrict,pty ${line(k)}`],
  ['after a private key body line', (k) => `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nno-pty ${line(k)}`],
  ['after a whole RFC 4716 block', (k) => `---- BEGIN SSH2 PUBLIC KEY ----\nComment: "x"\nAAAAC3NzaC1lZDI1NTE5AAAAIPlCsqvRBr+srjv79hbGTcCIGVkPj2PEqDevM3LWOH/j\n---- END SSH2 PUBLIC KEY ----\n${line(k)}`],
  ['after junk lines', (k) => `hello world\n\n# comment\n   \n\r\n${line(k)}`],
  // comma forms
  ['a trailing comma before the blank', (k) => `no-pty, ${line(k)}`],
  ['two commas in a row', (k) => `no-pty,,pty ${line(k)}`],
  ['a leading comma', (k) => `,no-pty ${line(k)}`],
  ['a bare comma', (k) => `, ${line(k)}`],
  // option names
  ['options in upper case', (k) => `NO-PTY,Restrict,COMMAND="true" ${line(k)}`],
  ['an unknown option', (k) => `foo ${line(k)}`],
  ['an unknown negated option', (k) => `no-foo ${line(k)}`],
  ['an unknown option with a value', (k) => `foo="bar" ${line(k)}`],
  ['a known flag with a suffix', (k) => `restrictx ${line(k)}`],
  ['a flag given a value', (k) => `no-pty="yes" ${line(k)}`],
  ['a value option without a value', (k) => `command ${line(k)}`],
  ['a value option without quotes', (k) => `command=true ${line(k)}`],
  ['a negated restrict', (k) => `no-restrict ${line(k)}`],
  ['a quoted option name', (k) => `"no-pty" ${line(k)}`],
  ['verify-required on a plain key', (k) => `verify-required ${line(k)}`],
  ['no-touch-required', (k) => `no-touch-required ${line(k)}`],
  // quoting
  ['an escaped quote in a value', (k) => `command="echo \\"hi\\" >/dev/null" ${line(k)}`],
  ['a blank inside a quoted value', (k) => `command="true x",no-pty ${line(k)}`],
  ['an unterminated quote', (k) => `command="true ${line(k)}`],
  ['garbage after a quoted value', (k) => `command="true"x ${line(k)}`],
  ['two command clauses', (k) => `command="true",command="true" ${line(k)}`],
  ['a backslash before the closing quote', (k) => `command="true\\\\" ${line(k)}`],
  // blanks and line ends
  ['tabs between the fields', (k) => `no-pty\t${k.type}\t${k.b64}\talice`],
  ['several blanks between the fields', (k) => `no-pty   ${k.type}   ${k.b64}   alice`],
  ['leading blanks', (k) => `  \t ${line(k)}`],
  ['trailing blanks', (k) => `${line(k)}   \t`],
  ['CRLF after a comment', (k) => `${line(k)}\r\n`],
  ['CRLF right after the key data', (k) => `${k.type} ${k.b64}\r\n`],
  ['a CR inside the key data', (k) => `${k.type} ${k.b64.slice(0, 20)}\r${k.b64.slice(20)}`],
  ['a form feed inside the key data', (k) => `${k.type} ${k.b64.slice(0, 20)}\f${k.b64.slice(20)}`],
  ['a byte-order mark before the type', (k) => `\uFEFF${line(k)}`],
  ['a NUL after the key data', (k) => `${k.type} ${k.b64}\0 garbage`],
  ['a NUL before everything', (k) => `\0${line(k)}`],
  ['a NUL inside the options', (k) => `no-pty\0 ${line(k)}`],
  ['a very long comment', (k) => `${line(k)} ${'x'.repeat(200_000)}`],
  ['a very long command', (k) => `command="true ${'y'.repeat(100_000)}" ${line(k)}`],
  ['a key with no comment and no newline', (k) => `${k.type} ${k.b64}`],
  ['a commented-out key', (k) => `#${line(k)}`],
  ['an indented commented-out key', (k) => `  # ${line(k)}`],
  ['the key twice on one line', (k) => `${k.type} ${k.b64} ${k.type} ${k.b64}`],
  // key types
  ['the type in upper case', (k) => `SSH-ED25519 ${k.b64}`],
  ['the short type name', (k) => `ED25519 ${k.b64}`],
  ['the short type name in lower case', (k) => `ed25519 ${k.b64}`],
  ['another type name on this key', (k) => `ssh-rsa ${k.b64}`],
  ['options then the type in upper case', (k) => `no-pty SSH-ED25519 ${k.b64}`],
  ['a type with no data', (k) => `${k.type}\n${line(k)}`],
  // option values
  ['from= the client address', (k) => `from="127.0.0.1" ${line(k)}`],
  ['from= a pattern', (k) => `from="127.0.0.*,!10.*" ${line(k)}`],
  ['from= another address', (k) => `from="10.9.9.9" ${line(k)}`],
  ['from= with host bits set', (k) => `from="127.0.0.1/8" ${line(k)}`],
  ['from= a prefix too long', (k) => `from="127.0.0.0/33" ${line(k)}`],
  ['from= empty', (k) => `from="" ${line(k)}`],
  ['from= with an empty entry', (k) => `from="127.0.0.1," ${line(k)}`],
  ['from= twice', (k) => `from="127.0.0.1",from="127.0.0.1" ${line(k)}`],
  ['expiry-time in the past', (k) => `expiry-time="20000101" ${line(k)}`],
  ['expiry-time in the future', (k) => `expiry-time="29991231" ${line(k)}`],
  ['expiry-time malformed', (k) => `expiry-time="2030" ${line(k)}`],
  ['expiry-time with a Z', (k) => `expiry-time="299912312359Z" ${line(k)}`],
  ['permitopen host:port', (k) => `permitopen="localhost:22" ${line(k)}`],
  ['permitopen without a port', (k) => `permitopen="localhost" ${line(k)}`],
  ['permitopen bracketed v6 and a star', (k) => `permitopen="[::1]:*" ${line(k)}`],
  ['permitopen a port 0', (k) => `permitopen="localhost:0" ${line(k)}`],
  ['permitlisten a bare port', (k) => `permitlisten="8080" ${line(k)}`],
  ['permitlisten a bad port', (k) => `permitlisten="localhost:x" ${line(k)}`],
  ['tunnel a number', (k) => `tunnel="1" ${line(k)}`],
  ['tunnel any', (k) => `tunnel="ANY" ${line(k)}`],
  ['tunnel not a number', (k) => `tunnel="x" ${line(k)}`],
  ['environment NAME=value', (k) => `environment="LD_PRELOAD=/tmp/x.so" ${line(k)}`],
  ['environment an empty name', (k) => `environment="=x" ${line(k)}`],
  ['environment without =', (k) => `environment="FOO" ${line(k)}`],
  ['environment a bad name', (k) => `environment="F-O=x" ${line(k)}`],
  ['principals without cert-authority', (k) => `principals="a,b" ${line(k)}`],
  // CAs and certificates
  ['cert-authority', (k) => `cert-authority ${line(k)}`, true],
  ['cert-authority with principals naming the user', (k) => `cert-authority,principals="${k.user}" ${line(k)}`, true],
  ['cert-authority with principals naming others', (k) => `cert-authority,principals="nobody" ${line(k)}`, true],
  ['a certificate written as a key', (k) => k.cert, true],
  ['a certificate with cert-authority', (k) => `cert-authority ${k.cert}`, true],
];

d('authorized_keys: infra and a real sshd agree on every form', () => {
  const user = `infra-ak-${randomBytes(3).toString('hex')}`;
  let created = false;
  let tmp: string;
  let home: string;
  let sshd: Sshd | undefined;
  let key: { type: string; b64: string; user: string; cert: string };
  let privateKey: string;
  let userKey: string;
  let certFile: string;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-ak-'));
    home = createUser(user, () => (created = true));
    await fs.mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o755 });
    const k = await sshKeygen(tmp, 'alice');
    privateKey = k.privateKey;
    const [type, b64] = k.publicLine.split(' ');
    // a user key certified by alice's key, kept under a name ssh does not load by itself
    userKey = (await sshKeygen(tmp, 'user')).privateKey;
    mustRun('ssh-keygen', ['-q', '-s', privateKey, '-I', 'probe', '-n', user, '-V', '-5m:+1h', `${userKey}.pub`]);
    certFile = path.join(tmp, 'probe-certificate.pub');
    await fs.rename(`${userKey}-cert.pub`, certFile);
    key = { type, b64, user, cert: (await fs.readFile(certFile, 'utf8')).trim() };
    sshd = await startSshd([user]);
  }, 60_000);

  afterAll(async () => {
    await sshd?.stop();
    if (created) removeUser(user);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const plainLogin = () => sshLogin(user, sshd!.port, ['-i', privateKey, '-o', 'IdentitiesOnly=yes']);
  const certLogin = () => sshLogin(user, sshd!.port, ['-i', userKey, '-o', `CertificateFile=${certFile}`, '-o', 'IdentitiesOnly=yes']);

  // every row has three cells: with two, jest would take the third parameter for a done callback
  it.each(FORMS.map(([name, text, ca]) => [name, text, ca ?? false] as const))('%s', async (_name, text, ca) => {
    const content = text(key);
    await fs.writeFile(path.join(home, '.ssh', 'authorized_keys'), content.endsWith('\n') ? content : `${content}\n`);
    const infra = parseAuthorizedKeys(content);
    const aliceLines = infra.keys.filter((k) => k.blob === key.b64);
    const infraKeyLines = aliceLines.filter((k) => !k.options.some((o) => o.name === 'cert-authority')).map((k) => k.line);
    const infraCaLines = aliceLines.filter((k) => k.options.some((o) => o.name === 'cert-authority')).map((k) => k.line);

    const plain: Attempt = await attempt(sshd!, plainLogin);
    const seen = { sshdKeyLines: plain.keyLines, infraKeyLines, loggedIn: plain.loggedIn };
    expect(seen).toEqual({ sshdKeyLines: infraKeyLines, infraKeyLines, loggedIn: seen.loggedIn });
    // a login that worked went through a line infra sees as a key that grants
    if (plain.loggedIn) expect(aliceLines.filter((k) => plain.keyLines.includes(k.line)).map((k) => loginProblems(k.options))).toContainEqual([]);
    // a line infra says grants nothing (whatever the client) did not let anyone in
    for (const k of aliceLines) if (loginProblems(k.options).length > 0) expect({ line: k.line, loggedIn: plain.loggedIn && plain.keyLines.length === 1 && plain.keyLines[0] === k.line }).toEqual({ line: k.line, loggedIn: false });
    if (ca) {
      const viaCa = await attempt(sshd!, certLogin);
      expect({ sshdCaLines: viaCa.caLines }).toEqual({ sshdCaLines: infraCaLines });
    }
  }, 60_000);

  it('the plain key logs in when its line is the plain form (the probe itself works)', async () => {
    await fs.writeFile(path.join(home, '.ssh', 'authorized_keys'), `${line(key)}\n`);
    const ok = await attempt(sshd!, plainLogin);
    expect(ok).toMatchObject({ loggedIn: true, keyLines: [1] });
    await fs.writeFile(path.join(home, '.ssh', 'authorized_keys'), `cert-authority ${line(key)}\n`);
    const viaCa = await attempt(sshd!, certLogin);
    expect(viaCa).toMatchObject({ loggedIn: true, caLines: [1] });
  }, 60_000);
});
