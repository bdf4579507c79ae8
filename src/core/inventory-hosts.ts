/**
 * Host names, ranges and ports as an inventory line writes them (ansible.parsing.utils.addresses and the
 * inventory base plugin): `web[01:03].example:2222` is three hosts with ansible_port 2222.
 */
import { inventoryError, type InventoryBuilder, type SourceLocation } from './inventory-model.js';

const NUMERIC_RANGE = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const HEX_RANGE = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const ALNUM_RANGE = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const IPV4_PART = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${NUMERIC_RANGE})`;
const IPV6_PART = String.raw`(?:[0-9a-f]{1,4}|${HEX_RANGE})`;
const LABEL = String.raw`(?:[\p{L}\p{N}_]|${ALNUM_RANGE})(?:[\p{L}\p{N}_-]|${ALNUM_RANGE})*(?<![_-])`;
const ADDRESS = {
  bracketedHostPort: /^\[(.+)\]:([0-9]+)$/,
  hostPort: /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/,
  ipv4: new RegExp(String.raw`^(?:${IPV4_PART}\.){3}${IPV4_PART}$`, 'i'),
  ipv6: new RegExp(
    '^(?:' +
      [
        `(?:${IPV6_PART}:){7}${IPV6_PART}`,
        `(?:${IPV6_PART}:){1,6}:`,
        `(?:${IPV6_PART}:)(?::${IPV6_PART}){1,6}`,
        `(?:${IPV6_PART}:){2}(?::${IPV6_PART}){1,5}`,
        `(?:${IPV6_PART}:){3}(?::${IPV6_PART}){1,4}`,
        `(?:${IPV6_PART}:){4}(?::${IPV6_PART}){1,3}`,
        `(?:${IPV6_PART}:){5}(?::${IPV6_PART}){1,2}`,
        `(?:${IPV6_PART}:){6}(?::${IPV6_PART})`,
        `:(?::${IPV6_PART}){1,6}`,
        `${IPV6_PART}?::`,
        String.raw`(?:0:){6}(?:${IPV6_PART}\.){3}${IPV6_PART}`,
        String.raw`::(?:ffff:)?(?:${IPV6_PART}\.){3}${IPV6_PART}`,
        String.raw`(?:0:){5}ffff:(?:${IPV6_PART}\.){3}${IPV6_PART}`,
      ].join('|') +
      ')$',
    'i',
  ),
  hostname: new RegExp(String.raw`^${LABEL}(?:\.${LABEL})*$`, 'iu'),
};

/**
 * Ansible's parse_address(address, allow_ranges=True): a host name, IPv4 or IPv6 address (ranges allowed)
 * with an optional port; undefined when it is none of these.
 */
export function parseAddress(address: string): { host: string; port?: number } | undefined {
  let rest = address;
  let port: number | undefined;
  for (const re of [ADDRESS.bracketedHostPort, ADDRESS.hostPort]) {
    const m = re.exec(rest);
    if (m) {
      rest = m[1];
      port = Number(m[2]);
    }
  }
  if (ADDRESS.ipv4.test(rest) || ADDRESS.ipv6.test(rest) || ADDRESS.hostname.test(rest)) return { host: rest, port };
  return undefined;
}

const ASCII_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Ansible's expand_hostname_range: db[01:03]-x, web[a:c], [1:9:2] steps, several ranges in one name. */
export function expandHostRange(name: string): string[] {
  if (!name.includes('[')) return [name];
  const open = name.indexOf('[');
  const close = name.indexOf(']', open);
  if (close < 0 || name.indexOf(']') < open) throw new Error(`host range in '${name}' is not closed with ']'`);
  const head = name.slice(0, open);
  const tail = name.slice(close + 1);
  const bounds = name.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new Error(`host range in '${name}' must be begin:end or begin:end:step`);
  const begin = bounds[0] || '0';
  const end = bounds[1];
  const step = bounds.length === 3 ? parsePythonInt(bounds[2], name) : 1;
  if (!end) throw new Error(`host range in '${name}' must specify an end value`);
  if (step === 0) throw new Error(`host range in '${name}' has a step of 0`);
  let fill = (x: string | number) => String(x);
  if (begin[0] === '0' && begin.length > 1) {
    if (begin.length !== end.length) throw new Error(`host range in '${name}' must have begin and end of equal length`);
    fill = (x) => String(x).padStart(begin.length, '0');
  }
  let sequence: (string | number)[];
  const iBegin = ASCII_LETTERS.indexOf(begin);
  const iEnd = ASCII_LETTERS.indexOf(end);
  if (iBegin >= 0 && iEnd >= 0) {
    if (iBegin > iEnd) throw new Error(`host range in '${name}' must have begin <= end`);
    if (step < 0) throw new Error(`host range in '${name}' has a negative step`);
    sequence = [];
    for (let i = iBegin; i <= iEnd; i += step) sequence.push(ASCII_LETTERS.slice(i, i + 1));
  } else {
    const from = parsePythonInt(begin, name);
    const to = parsePythonInt(end, name) + 1;
    sequence = [];
    if (step > 0) for (let i = from; i < to; i += step) sequence.push(i);
    else for (let i = from; i > to; i += step) sequence.push(i);
  }
  return sequence.flatMap((item) => expandHostRange(head + fill(item) + tail));
}

function parsePythonInt(text: string, name: string): number {
  if (!/^\s*[+-]?[0-9]+\s*$/.test(text)) throw new Error(`host range in '${name}' has '${text}', which is not a number or a letter`);
  return Number.parseInt(text, 10);
}

/** The base inventory plugin's _expand_hostpattern: names (ranges expanded) and an optional port. */
function expandHostPattern(pattern: string): { names: string[]; port?: number } {
  const address = parseAddress(pattern);
  const base = address ? address.host : pattern;
  return { names: expandHostRange(base), port: address?.port };
}

export function addHostDefinition(b: InventoryBuilder, pattern: string, group: string, vars: [string, unknown][], where: SourceLocation): void {
  let expanded: { names: string[]; port?: number };
  try {
    expanded = expandHostPattern(pattern);
  } catch (error) {
    throw inventoryError(where, (error as Error).message);
  }
  for (const name of expanded.names) {
    b.addHost(name, group, where);
    if (expanded.port !== undefined) b.setHostVar(name, 'ansible_port', expanded.port);
    for (const [k, v] of vars) b.setHostVar(name, k, v);
  }
}
