/**
 * One host's result of an ad-hoc `ansible` module run, read into what `infra audit --live` needs
 * (answerOf), and Ansible's messages made one safe line (oneLine). The host results below are the shapes
 * ansible-core 2.14 printed for real runs (slurp over ssh to a local sshd, a closed port, a host key
 * missing from known_hosts), cut to the fields that matter.
 */
import { answerOf, oneLine } from '../../src/core/ansible-json.js';

// --- captured module results -------------------------------------------------------------------------
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
const REFUSED = { action: 'ansible.builtin.slurp', changed: false, msg: 'Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused', unreachable: true };
const HOST_KEY = { action: 'ansible.builtin.slurp', changed: false, msg: 'Failed to connect to the host via ssh: Host key verification failed.', unreachable: true };

const one = answerOf;

describe('answerOf', () => {
  it('reads ok, failed and unreachable results', () => {
    expect(answerOf(SLURP_OK)).toEqual({ status: 'ok', result: SLURP_OK });
    expect(answerOf(REFUSED)).toEqual({ status: 'unreachable', message: 'Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused' });
    expect(answerOf(HOST_KEY)).toEqual({ status: 'unreachable', message: 'Failed to connect to the host via ssh: Host key verification failed.' });
    expect(answerOf(SLURP_NO_FILE)).toMatchObject({ status: 'failed', message: 'file not found: /root/.ssh/authorized_keys' });
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
