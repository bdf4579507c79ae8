/** Private keys in a registry file, judged on its text (core/private-material.ts). Armor lines are built, as in src/. */
import { privateKeyFindings, privateKeyProblems, privateMaterialIn } from '../../src/core/private-material.js';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';
import { seededRandom } from '../helpers/context.js';

const P = ['PRI', 'VATE'].join('');
const armor = (label: string, body = 'AAAAbm9uZQ==') => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const wgPrivate = generatePrivateKey(seededRandom('private-material'));
const wgPublic = publicKeyOf(wgPrivate);

it.each([
  ['an OpenSSH private key', 'id_ed25519', armor(`OPENSSH ${P} KEY`), 'openssh', 1],
  ['a PEM RSA key after a comment line', 'notes/old.pem', `# keep\n${armor(`RSA ${P} KEY`)}`, 'pem', 2],
  ['a PKCS#8 key', 'k.txt', armor(`${P} KEY`), 'pem', 1],
  ['an encrypted PKCS#8 key (still private)', 'k.txt', armor(`ENCRYPTED ${P} KEY`), 'pem', 1],
  ['an indented EC key in CRLF lines', 'docs/x.md', `text\r\n  ${armor(`EC ${P} KEY`).replace(/\n/g, '\r\n')}`, 'pem', 2],
  ['an OpenPGP secret key export', 'keys/alice/alice.sec.asc', armor(`PGP ${P} KEY BLOCK`), 'openpgp', 1],
  ['a PuTTY key', 'me.ppk', `PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\nAAAA\nPrivate-Lines: 1\nAAAA\n`, 'putty', 1],
  ['a wg-quick config', 'alice-tablet.conf', `[Interface]\nPrivateKey = ${wgPrivate}\nAddress = 10.77.0.9/32\n`, 'wg-quick', 2],
  ['a wg-quick config, lower case, no spaces, a trailing comment', 'x.conf', `[Interface]\nprivatekey=${wgPrivate} # tablet\n`, 'wg-quick', 2],
  ['`wg genkey > router.key`', 'router.key', `${wgPrivate}\n`, 'wg-key', 1],
  ['a .KEY file in another case', 'Router.KEY', wgPrivate, 'wg-key', 1],
])('%s is found', (_name, file, text, kind, line) => {
  expect(privateMaterialIn(file, text)).toEqual({ file, line, kind });
});

it.each([
  ['an OpenPGP public key (pgp.asc)', 'keys/alice/pgp.asc', armor('PGP PUBLIC KEY BLOCK')],
  ['an encrypted token (an OpenPGP message)', 'keys/roobot/tokens/github.asc', armor('PGP MESSAGE')],
  ['an SSH public key line', 'keys/a.pub', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO x'],
  ['a wg-quick template that names no key', 'ansible/wg0.conf.j2', '[Interface]\nPrivateKey = {{ wg_private_key }}\n'],
  ['a PublicKey line', 'peer.conf', `[Peer]\nPublicKey = ${wgPublic}\n`],
  ['a PrivateKey line whose value is no key', 'x.conf', 'PrivateKey = not-a-key\n'],
  ['a playbook that only mentions PrivateKey', 'ansible/wireguard.yml', "if ! grep -q '^PrivateKey' <<<\"$stripped\"; then\n"],
  ['a WireGuard key in a file not named .key', 'router.pub', `${wgPublic}\n`],
  ['a .key file that holds something else', 'notes.key', 'remember the milk\n'],
  ['armor quoted inside a line (not a key block)', 'docs/x.md', `write it as \`-----BEGIN OPENSSH ${P} KEY-----\``],
  ['PuTTY magic without private lines', 'x.txt', 'PuTTY-User-Key-File-3: is how it starts\n'],
  ['empty', 'empty.key', ''],
])('%s is not a private key', (_name, file, text) => {
  expect(privateMaterialIn(file, text)).toBeUndefined();
});

it('the finding is high, names file and line, and its fix quotes a hostile file name', () => {
  const file = "keys/$(touch pwned)'x.key";
  const [f] = privateKeyFindings([{ file, line: 1, kind: 'wg-key' }]);
  expect(f).toMatchObject({ code: 'private-key-in-registry', severity: 'high', subject: file });
  expect(f.detail).toContain(`${file}:1 holds a WireGuard private key`);
  expect(f.fix).toContain(`git rm -q --cached --ignore-unmatch -- 'keys/$(touch pwned)'\\''x.key'`);
  expect(f.fix).toContain('infra vpn rekey HANDLE --device DEVICE');
  expect(f.fix).not.toMatch(/ keys\/\$\(/); // never unquoted
});

it('check reports it as a problem on its line, with the same fix', () => {
  const [p] = privateKeyProblems([{ file: 'id_rsa', line: 3, kind: 'pem' }]);
  expect(p).toMatchObject({ file: 'id_rsa', line: 3, field: '(private key)' });
  expect(p.message).toContain('private-key-in-registry');
  expect(p.message).toContain('git rm -q --cached --ignore-unmatch -- id_rsa');
});
