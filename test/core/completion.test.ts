/** Completion candidates for a partial command line (core/completion.ts), table-driven over literal commands and names. */
import { completions, type CommandShape, type RegistryNames } from '../../src/core/completion.js';

const value = { takesValue: true };
const bool = { takesValue: false };
const COMMANDS: CommandShape[] = [
  { id: 'vpn join', flags: { device: value, network: value, qr: bool, dir: value }, args: ['handle'] },
  { id: 'vpn network add', flags: { ipv4: value }, args: ['name'] },
  { id: 'vpn list', flags: { network: value }, args: [] },
  { id: 'keys remove', flags: {}, args: ['handle', 'key'] },
  { id: 'tokens rotate', flags: { due: bool }, args: ['token'] },
  { id: 'certs sign', flags: { key: value }, args: ['handle'] },
  { id: 'grants add', flags: { env: { takesValue: true, multiple: true }, groups: value }, args: [] },
  { id: 'audit', flags: { env: value }, args: [] },
];
const NAMES: RegistryNames = {
  handles: ['alice', 'bob', 'roobot'],
  tokens: ['roobot/github', 'roobot/webhook'],
  devices: { alice: ['laptop', 'phone'], bob: ['desktop'] },
  keys: { alice: ['laptop', 'yubikey'], bob: ['work'] },
  networks: ['meet', 'ops'],
  environments: ['production', 'staging'],
};

it.each([
  ['top level', [''], ['audit', 'certs', 'grants', 'keys', 'tokens', 'vpn']],
  ['a topic’s commands', ['vpn', ''], ['join', 'list', 'network']],
  ['a partial command', ['vpn', 'j'], ['join']],
  ['a nested topic', ['vpn', 'network', ''], ['add']],
  ['a member handle', ['vpn', 'join', 'a'], ['alice']],
  ['every handle', ['vpn', 'join', ''], ['alice', 'bob', 'roobot']],
  ['flags after an argument (`vpn join alice --<TAB>`)', ['vpn', 'join', 'alice', '--'], ['--device', '--dir', '--network', '--qr']],
  ['a flag already given is not offered again', ['vpn', 'join', 'alice', '--qr', '--'], ['--device', '--dir', '--network']],
  ['a repeatable flag is', ['grants', 'add', '--env', 'production', '--e'], ['--env']],
  ['the devices of the member named', ['vpn', 'join', 'alice', '--device', ''], ['laptop', 'phone']],
  ['the devices, flag before the handle', ['vpn', 'join', '--device', ''], []],
  ['networks', ['vpn', 'join', 'bob', '--network', 'o'], ['ops']],
  ['networks of vpn list', ['vpn', 'list', '--network', ''], ['meet', 'ops']],
  ['environments', ['audit', '--env', 's'], ['staging']],
  ['a value given with = is not waited for', ['audit', '--env=staging', ''], []],
  ['a value flag’s value is skipped when counting arguments', ['vpn', 'join', '--dir', 'x', ''], ['alice', 'bob', 'roobot']],
  ['token names', ['tokens', 'rotate', 'roobot/'], ['roobot/github', 'roobot/webhook']],
  ['key names of the member', ['keys', 'remove', 'alice', ''], ['laptop', 'yubikey']],
  ['certs sign --key is a key name', ['certs', 'sign', 'bob', '--key', ''], ['work']],
  ['nothing past the last argument', ['keys', 'remove', 'alice', 'laptop', ''], []],
  ['an unknown member has no devices', ['vpn', 'join', 'zed', '--device', ''], []],
  ['a handle named like an Object property has none either', ['vpn', 'join', '__proto__', '--device', ''], []],
  ['an unknown command offers nothing', ['nosuch', ''], []],
])('%s', (_name, words, expected) => {
  expect(completions(words, COMMANDS, NAMES)).toEqual(expected);
});
