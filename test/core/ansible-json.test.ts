/**
 * Reading ad-hoc `ansible` output (ANSIBLE_STDOUT_CALLBACK=json) into what `infra audit --live` needs.
 * The host results below are the shapes ansible-core 2.14 printed for real runs (slurp over ssh to a local
 * sshd, a closed port, a host key missing from known_hosts, getent, command), cut to the fields that matter.
 */
import { LiveTally, oneLine, parseAdHocOutput, readGetent, readSlurp, readWgDump, type HostAnswer } from '../../src/core/ansible-json.js';

// --- captured module results -------------------------------------------------------------------------
const KEY_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPDotxlhgDzow47GG7eO2B0tAYRG3cVUd6XhJ4uWjmNB root@vm';
const SLURP_OK = {
  _ansible_no_log: false,
  action: 'ansible.builtin.slurp',
  changed: false,
  content: 'c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSVBEb3R4bGhnRHpvdzQ3R0c3ZU8yQjB0QVlSRzNjVlVkNlhoSjR1V2ptTkIgcm9vdEB2bQo=',
  encoding: 'base64',
  invocation: { module_args: { src: '/home/lxuser/.ssh/authorized_keys' } },
  source: '/home/lxuser/.ssh/authorized_keys',
};
const SLURP_NO_FILE = {
  action: 'ansible.builtin.slurp',
  changed: false,
  failed: true,
  invocation: { module_args: { src: '/root/.ssh/authorized_keys' } },
  msg: 'file not found: /root/.ssh/authorized_keys',
};
const SLURP_NO_USER = {
  action: 'ansible.builtin.slurp',
  changed: false,
  failed: true,
  invocation: { module_args: { src: '~nosuchuserx/.ssh/authorized_keys' } },
  msg: 'file not found: ~nosuchuserx/.ssh/authorized_keys',
};
const SLURP_UNREADABLE = {
  action: 'ansible.builtin.slurp',
  changed: false,
  failed: true,
  invocation: { module_args: { src: '/root/.ssh/authorized_keys' } },
  msg: 'file is not readable: /root/.ssh/authorized_keys',
};
const REFUSED = { action: 'ansible.builtin.slurp', changed: false, msg: 'Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused', unreachable: true };
const HOST_KEY = { action: 'ansible.builtin.slurp', changed: false, msg: 'Failed to connect to the host via ssh: Host key verification failed.', unreachable: true };
const GETENT_OK = {
  action: 'ansible.builtin.getent',
  ansible_facts: { getent_passwd: { lxuser: ['x', '1001', '1001', '', '/home/lxuser', '/bin/sh'] } },
  changed: false,
  invocation: { module_args: { database: 'passwd', fail_key: true, key: 'lxuser', service: null, split: null } },
};
const GETENT_NO_USER = {
  action: 'ansible.builtin.getent',
  changed: false,
  failed: true,
  invocation: { module_args: { database: 'passwd', fail_key: true, key: 'nosuchuserx', service: null, split: null } },
  msg: 'One or more supplied key could not be found in the database.',
};
const BECOME_FAILED = {
  action: 'ansible.builtin.command',
  failed: true,
  msg: 'Failed to change ownership of the temporary files Ansible (via chmod nor setfacl) needs to create despite connecting as a privileged user. Unprivileged become user would be unable to read the file.',
};
const WG_PUB = 'NmI0uj56rI26j8eA1Ht8knityzmdkV6djjsf51jIdBw=';
const PEER_PUB = 'YLNFR1qlUrkSTnoZ+ozvXcPLWMuXwunTKxYmuv3n0EQ=';
const commandOk = (stdout: string) => ({
  action: 'ansible.builtin.command',
  changed: true,
  cmd: ['wg', 'show', 'all', 'dump'],
  msg: '',
  rc: 0,
  stderr: '',
  stderr_lines: [],
  stdout,
  stdout_lines: stdout.split('\n'),
});
const WG_OK = commandOk(`wg0\t(none)\t${WG_PUB}\t51820\toff\nwg0\t${PEER_PUB}\t(none)\t192.0.2.1:51820\t10.77.0.5/32\t1767225600\t10\t20\toff`);
const WG_MISSING = {
  action: 'ansible.builtin.command',
  changed: false,
  cmd: 'wg show all dump',
  failed: true,
  msg: "[Errno 2] No such file or directory: b'wg'",
  rc: 2,
  stderr: '',
  stdout: '',
};
const WG_DENIED = {
  action: 'ansible.builtin.command',
  changed: true,
  failed: true,
  msg: 'non-zero return code',
  rc: 1,
  stderr: 'Unable to access interface: Operation not permitted',
  stdout: '',
};

/** The json callback's document around one ad-hoc task, as ansible prints it. */
const document = (hosts: Record<string, unknown>) =>
  JSON.stringify(
    {
      custom_stats: {},
      global_custom_stats: {},
      plays: [
        {
          play: { duration: { start: '2026-11-29T13:41:58.292753Z', end: '2026-11-29T13:41:58.556806Z' }, id: '02fc0000-0001-6540-9ae6-000000000004', name: 'Ansible Ad-Hoc', path: '' },
          tasks: [{ hosts, task: { duration: {}, id: '02fc0000-0001-6540-9ae6-000000000006', name: 'ansible.builtin.slurp', path: '' } }],
        },
      ],
      stats: Object.fromEntries(Object.keys(hosts).map((h) => [h, { ok: 1 }])),
    },
    null,
    4,
  );

const answers = (hosts: Record<string, unknown>): Map<string, HostAnswer> => {
  const out = parseAdHocOutput(document(hosts));
  if (!out.readable) throw new Error(out.reason);
  return out.hosts;
};
const one = (result: unknown): HostAnswer => answers({ h: result }).get('h')!;

describe('parseAdHocOutput', () => {
  it('reads every host of the document: ok, failed, unreachable', () => {
    const out = parseAdHocOutput(document({ web: SLURP_OK, closed: REFUSED, stranger: HOST_KEY, nofile: SLURP_NO_FILE }));
    expect(out.readable).toBe(true);
    if (!out.readable) return;
    expect([...out.hosts.keys()].sort()).toEqual(['closed', 'nofile', 'stranger', 'web']);
    expect(out.hosts.get('web')).toEqual({ status: 'ok', result: SLURP_OK });
    expect(out.hosts.get('closed')).toEqual({ status: 'unreachable', message: 'Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused' });
    expect(out.hosts.get('stranger')).toEqual({ status: 'unreachable', message: 'Failed to connect to the host via ssh: Host key verification failed.' });
    expect(out.hosts.get('nofile')).toMatchObject({ status: 'failed', message: 'file not found: /root/.ssh/authorized_keys' });
  });

  it('skips text printed before the document', () => {
    const out = parseAdHocOutput(`[WARNING]: something a plugin printed\n${document({ web: SLURP_OK })}`);
    expect(out.readable && out.hosts.get('web')?.status).toBe('ok');
  });

  it('the document of a run where --limit left no host has no hosts', () => {
    const empty = JSON.stringify({ custom_stats: {}, global_custom_stats: {}, plays: [{ play: { name: 'Ansible Ad-Hoc' }, tasks: [] }], stats: {} });
    expect(parseAdHocOutput(empty)).toEqual({ readable: true, hosts: new Map() });
  });

  it.each([
    ['nothing', '', /printed nothing/],
    ['the default callback', 'web | SUCCESS => {\n    "changed": false\n}\n', /no JSON document/],
    ['a truncated document', document({ web: SLURP_OK }).slice(0, 200), /does not parse/],
    ['JSON of another shape', '{"results": []}', /without "plays"/],
    ['an array', '[1, 2]', /no JSON document/],
    ['plays that is not a list', '{"plays": {"a": 1}}', /without "plays"/],
  ])('says why it cannot read %s', (_what, stdout, reason) => {
    const out = parseAdHocOutput(stdout);
    expect(out.readable).toBe(false);
    if (!out.readable) expect(out.reason).toMatch(reason);
  });

  it.each([
    ['a play is a string', '{"plays": ["x"]}'],
    ['tasks is a number', '{"plays": [{"tasks": 3}]}'],
    ['hosts is a list', '{"plays": [{"tasks": [{"hosts": [1]}]}]}'],
    ['null everywhere', '{"plays": [null, {"tasks": [null, {"hosts": null}]}]}'],
  ])('odd shapes give no hosts instead of throwing: %s', (_what, stdout) => {
    const out = parseAdHocOutput(stdout);
    expect(out).toEqual({ readable: true, hosts: new Map() });
  });

  it('a host whose result is not an object is failed, not a crash', () => {
    expect(one(null)).toMatchObject({ status: 'failed', message: 'Ansible returned no result for this host' });
    expect(one('text')).toMatchObject({ status: 'failed' });
  });

  it('messages become one safe line: newlines, escapes and bidi controls cannot reach a terminal', () => {
    const evil = { unreachable: true, msg: 'line one\nline two\r\n\u001b[31mred\u001b[0m \u202Egnp.exe' };
    const answer = one(evil);
    expect(answer.status).toBe('unreachable');
    if (answer.status !== 'unreachable') return;
    expect(answer.message).not.toMatch(/[\n\r\u001b\u202E]/);
    expect(answer.message).toMatch(/^line one line two \uFFFD\[31mred\uFFFD\[0m \uFFFDgnp\.exe$/);
  });

  it('a non-string msg is shown as JSON, an empty one says so', () => {
    expect(one({ failed: true, msg: ['a', 'b'] })).toMatchObject({ message: '["a","b"]' });
    expect(one({ failed: true })).toMatchObject({ message: 'Ansible gave no reason' });
    expect(one({ unreachable: true })).toMatchObject({ message: 'unreachable (Ansible gave no reason)' });
  });
});

describe('oneLine', () => {
  it('cuts long messages', () => {
    const cut = oneLine('x'.repeat(1000));
    expect(cut).toHaveLength(300);
    expect(cut.endsWith('…')).toBe(true);
  });
});

describe('readSlurp', () => {
  it.each<[string, unknown, ReturnType<typeof readSlurp>]>([
    ['the file', SLURP_OK, { kind: 'text', text: `${KEY_LINE}\n` }],
    ['a missing file', SLURP_NO_FILE, { kind: 'not-found' }],
    ['a missing user (same message: ~ left unexpanded)', SLURP_NO_USER, { kind: 'not-found' }],
    ['an unreadable file', SLURP_UNREADABLE, { kind: 'error', message: 'file is not readable: /root/.ssh/authorized_keys' }],
    ['become failing', BECOME_FAILED, { kind: 'error', message: BECOME_FAILED.msg }],
    ['a refused connection', REFUSED, { kind: 'unreachable', message: REFUSED.msg }],
    ['an unknown host key', HOST_KEY, { kind: 'unreachable', message: HOST_KEY.msg }],
    ['no content', { ...SLURP_OK, content: undefined }, { kind: 'error', message: 'Ansible returned no base64 content for the file' }],
    ['content that is a number', { ...SLURP_OK, content: 42 }, { kind: 'error', message: 'Ansible returned no base64 content for the file' }],
    ['another encoding', { ...SLURP_OK, encoding: 'utf-16' }, { kind: 'error', message: 'Ansible returned no base64 content for the file' }],
    ['content that is not base64', { ...SLURP_OK, content: 'not base64!' }, { kind: 'error', message: 'Ansible returned content that is not base64' }],
    ['an empty file', { ...SLURP_OK, content: '' }, { kind: 'text', text: '' }],
  ])('%s', (_what, result, expected) => {
    expect(readSlurp(one(result))).toEqual(expected);
  });

  it('bytes that are not UTF-8 are kept as replacement characters, lines intact', () => {
    const bytes = Buffer.concat([Buffer.from(`${KEY_LINE}\n`), Buffer.from([0xff, 0xfe, 0x0a])]);
    const reading = readSlurp(one({ ...SLURP_OK, content: bytes.toString('base64') }));
    expect(reading).toEqual({ kind: 'text', text: `${KEY_LINE}\n\uFFFD\uFFFD\n` });
  });
});

describe('readGetent', () => {
  it.each<[string, unknown, ReturnType<typeof readGetent>]>([
    ['the user exists', GETENT_OK, { kind: 'exists' }],
    ['no such user', GETENT_NO_USER, { kind: 'no-such-user' }],
    ['become failing', BECOME_FAILED, { kind: 'error', message: BECOME_FAILED.msg }],
    ['unreachable now', REFUSED, { kind: 'unreachable', message: REFUSED.msg }],
  ])('%s', (_what, result, expected) => {
    expect(readGetent(one(result))).toEqual(expected);
  });
});

describe('readWgDump', () => {
  it('parses the dump stdout (private keys never kept)', () => {
    const reading = readWgDump(one(WG_OK));
    expect(reading.kind).toBe('dump');
    if (reading.kind !== 'dump') return;
    expect(reading.dump.interfaces).toEqual([{ name: 'wg0', publicKey: WG_PUB, listenPort: 51820, fwmark: null }]);
    expect(reading.dump.peers.map((p) => [p.interface, p.publicKey, p.allowedIps])).toEqual([['wg0', PEER_PUB, ['10.77.0.5/32']]]);
  });

  it('no interfaces: an empty dump', () => {
    expect(readWgDump(one(commandOk('')))).toEqual({ kind: 'dump', dump: { interfaces: [], peers: [] } });
  });

  it.each<[string, unknown, RegExp]>([
    ['wg not installed', WG_MISSING, /^`wg show all dump` failed: \[Errno 2\] No such file or directory: b'wg'$/],
    ['wg without root', WG_DENIED, /^`wg show all dump` failed: Unable to access interface: Operation not permitted \(exit 1\)$/],
    ['garbage on stdout', commandOk('<html>proxy error</html>'), /^`wg show all dump` printed what infra cannot read: wg dump line 1: 1 tab-separated fields/],
    ['stdout missing', { ...WG_OK, stdout: undefined }, /printed nothing/],
  ])('%s', (_what, result, message) => {
    const reading = readWgDump(one(result));
    expect(reading.kind).toBe('error');
    if (reading.kind === 'error') expect(reading.message).toMatch(message);
  });
});

describe('LiveTally', () => {
  it('gathers users, missing files, missing users, unreadable files and unreachable hosts per host', () => {
    const tally = new LiveTally('production');
    // sysadmin: read on web, absent on db (getent: exists), absent on mail (getent: no such user); closed refuses
    const notFound = tally.recordSlurp('sysadmin', answers({ web: SLURP_OK, db: SLURP_NO_FILE, mail: SLURP_NO_USER, closed: REFUSED }));
    expect(notFound).toEqual(['db', 'mail']);
    tally.recordGetent('sysadmin', answers({ db: GETENT_OK, mail: GETENT_NO_USER }));
    tally.recordSlurp('deploy', answers({ web: SLURP_UNREADABLE }));
    expect(tally.isUnreachable('closed')).toBe(true);
    expect(tally.isUnreachable('web')).toBe(false);
    expect(tally.hosts()).toEqual([
      { environment: 'production', host: 'closed', unreachable: REFUSED.msg },
      { environment: 'production', host: 'db', authorizedKeys: { sysadmin: null } },
      { environment: 'production', host: 'mail', authorizedKeys: {}, userErrors: { sysadmin: 'there is no user sysadmin on this host' } },
      { environment: 'production', host: 'web', authorizedKeys: { sysadmin: `${KEY_LINE}\n` }, userErrors: { deploy: 'file is not readable: /root/.ssh/authorized_keys' } },
    ]);
    expect(tally.describe('web')).toBe('production/web: sysadmin: 1 line; deploy: file is not readable: /root/.ssh/authorized_keys');
    expect(tally.describe('db')).toBe('production/db: sysadmin: no authorized_keys');
    expect(tally.describe('closed')).toBe(`production/closed: unreachable: ${REFUSED.msg}`);
  });

  it('a getent that fails otherwise is a user error that says both', () => {
    const tally = new LiveTally('staging');
    tally.recordSlurp('sysadmin', answers({ web: SLURP_NO_FILE }));
    tally.recordGetent('sysadmin', answers({ web: BECOME_FAILED }));
    expect(tally.hosts()[0].userErrors?.sysadmin).toBe(`the file was not found, and looking up the user failed: ${BECOME_FAILED.msg}`);
  });

  it('WireGuard dumps carry the host as source; a failing wg on a reachable host is reported, not dropped', () => {
    const tally = new LiveTally('production');
    tally.recordSlurp('sysadmin', answers({ vpn1: SLURP_OK, vpn2: SLURP_OK }));
    tally.recordWg(answers({ vpn1: WG_OK, vpn2: WG_DENIED, vpn3: HOST_KEY }));
    expect(tally.dumps.map((d) => [d.source, d.dump.peers.length])).toEqual([['vpn1', 1]]);
    const hosts = tally.hosts();
    expect(hosts.filter((h) => h.host === 'vpn2')).toEqual([
      { environment: 'production', host: 'vpn2', authorizedKeys: { sysadmin: `${KEY_LINE}\n` } },
      { environment: 'production', host: 'vpn2', unreachable: '`wg show all dump` failed: Unable to access interface: Operation not permitted (exit 1)' },
    ]);
    expect(hosts.filter((h) => h.host === 'vpn3')).toEqual([{ environment: 'production', host: 'vpn3', unreachable: HOST_KEY.msg }]);
    expect(tally.describe('vpn1')).toBe('production/vpn1: sysadmin: 1 line; wg: 1 interface, 1 peer');
  });

  it('a host unreachable once stays unreachable with the first reason, whatever it answered before', () => {
    const tally = new LiveTally('production');
    tally.recordSlurp('a', answers({ web: SLURP_OK }));
    tally.recordSlurp('b', answers({ web: HOST_KEY }));
    tally.markUnreachable('web', 'later reason');
    expect(tally.hosts()).toEqual([{ environment: 'production', host: 'web', unreachable: HOST_KEY.msg }]);
  });

  it('hosts Ansible did not answer for (left out by --limit) do not appear', () => {
    const tally = new LiveTally('production');
    tally.recordSlurp('sysadmin', new Map());
    expect(tally.hosts()).toEqual([]);
    expect(tally.answered('web')).toBe(false);
  });
});
