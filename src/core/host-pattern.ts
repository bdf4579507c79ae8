/**
 * Ansible host patterns (ansible-core 2.14 InventoryManager.get_hosts), resolved against an Inventory:
 * the same hosts, in the same order, that `ansible -i INV PATTERN --list-hosts` lists.
 *
 * Strict mode (the default) is Ansible with `host_pattern_mismatch = error` plus syntax checks: a grant
 * must never silently grant nothing because of a typo. `{ strict: false }` follows Ansible as it ships:
 * unknown names are ignored, and an invalid regex or a subscript out of range gives no hosts at all.
 */
import { InfraError, ExitCode } from '../lib/errors.js';
import { closestNames } from '../lib/names.js';
import { hostsOfGroup, parseAddress, type Inventory } from './inventory.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface ResolveOptions {
  /** default true */
  strict?: boolean;
  /** Shown in messages and hints, e.g. `inventories/production`. */
  inventoryPath?: string;
}

/** Thrown for problems Ansible itself also rejects (its --list-hosts then lists nothing). */
class AnsibleLevelError extends Error {}

function patternError(message: string, options: ResolveOptions, hint?: string): InfraError {
  const inv = options.inventoryPath;
  return new InfraError(ExitCode.invalid, message, {
    hint: hint ?? (inv ? `see what exists with \`ansible-inventory -i ${shellQuote(inv)} --graph\`, then fix the pattern in infra.yml` : 'fix the host pattern in infra.yml'),
  });
}

/**
 * Ansible's split_host_pattern: with a comma anywhere, only commas separate; otherwise a single host
 * (or address, or range) stays whole, and ':' and whitespace separate.
 */
export function splitHostPattern(pattern: string): string[] {
  let terms: string[];
  if (pattern.includes(',')) terms = pattern.split(',');
  else if (parseAddress(pattern)) terms = [pattern];
  else terms = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

/** Ansible applies plain terms first, then `&` intersections, then `!` exclusions; no plain term means `all`. */
export function orderTerms(terms: string[]): string[] {
  const regular = terms.filter((t) => t[0] !== '!' && t[0] !== '&');
  const intersections = terms.filter((t) => t[0] === '&');
  const exclusions = terms.filter((t) => t[0] === '!');
  return [...(regular.length ? regular : ['all']), ...intersections, ...exclusions];
}

/** Syntax problems Ansible would silently misread (or crash on). */
function checkSyntax(pattern: string, terms: string[], options: ResolveOptions, inv: Inventory): void {
  const fail = (why: string) => {
    throw patternError(`host pattern '${pattern}' is not valid: ${why}`, options, 'fix the host pattern in infra.yml (e.g. `bbb:&production:!bbb3`)');
  };
  if (pattern.trim() === '') fail('it is empty (write `all` for every host)');
  for (const term of terms) {
    const body = term.replace(/^[!&]/, '');
    if (body === '') fail(`'${term}' has nothing after '${term}'`);
    if (/^[!&]/.test(body)) fail(`'${term}' has two operators; use one of '&' (and) or '!' (not) per term`);
  }
  if (pattern.includes(',')) {
    for (const term of terms) {
      const body = term.replace(/^[!&]/, '');
      if (body[0] !== '~' && /:/.test(body.replace(/\[[^\]]*\]/g, '')) && !inv.hosts.has(body) && !inv.groups.has(body)) {
        fail(`'${term}' mixes ':' with ',' — Ansible splits on ',' only when a ',' is present; use one separator`);
      }
    }
  } else {
    // what Ansible's splitter drops without a word: unbalanced brackets and stray characters
    const leftover = pattern.replace(/(?:[^\s:[\]]|\[[^\]]*\])+/g, '').replace(/[\s:]/g, '');
    if (leftover !== '' && !parseAddress(pattern)) fail(`unbalanced '${leftover[0]}'`);
  }
  for (const term of terms) {
    const body = term.replace(/^[!&]/, '');
    if (body[0] === '~') {
      try {
        pythonRegex(body.slice(1));
      } catch (error) {
        fail(`'${body}' is not a valid regular expression (${(error as Error).message})`);
      }
    }
  }
}

export function resolvePattern(pattern: string, inv: Inventory, options: ResolveOptions = {}): string[] {
  const strict = options.strict ?? true;
  const terms = splitHostPattern(pattern);
  if (strict) checkSyntax(pattern, terms, options, inv);
  else if (terms.some((t) => t === '!' || t === '&')) {
    throw patternError(`host pattern '${pattern}' is not valid: an operator has no name after it`, options);
  }
  try {
    return evaluate(pattern, orderTerms(terms), inv, strict, options);
  } catch (error) {
    if (error instanceof AnsibleLevelError) {
      if (!strict) return [];
      throw patternError(`host pattern '${pattern}': ${error.message}`, options);
    }
    throw error;
  }
}

function evaluate(pattern: string, terms: string[], inv: Inventory, strict: boolean, options: ResolveOptions): string[] {
  let hosts: string[] = [];
  for (const term of terms) {
    if (inv.hosts.has(term)) {
      hosts.push(term);
      continue;
    }
    const matched = matchTerm(term.replace(/^[!&]/, ''), inv, strict, pattern, options);
    if (term[0] === '!') {
      const drop = new Set(matched);
      hosts = hosts.filter((h) => !drop.has(h));
    } else if (term[0] === '&') {
      const keep = new Set(matched);
      hosts = hosts.filter((h) => keep.has(h));
    } else {
      const existing = new Set(hosts);
      hosts.push(...matched.filter((h) => !existing.has(h)));
    }
  }
  return [...new Set(hosts)];
}

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/s;

/** One term without its operator: groups (and their descendants) it names, then hosts, then a [subscript]. */
function matchTerm(term: string, inv: Inventory, strict: boolean, pattern: string, options: ResolveOptions): string[] {
  let expression = term;
  let subscript: { start: number; end?: number } | undefined;
  if (term[0] !== '~') {
    const m = SUBSCRIPT.exec(term);
    if (m) {
      expression = m[1];
      if (m[2] !== undefined) subscript = { start: Number(m[2]) };
      else subscript = { start: Number(m[3]), end: m[5] ? Number(m[5]) : -1 };
      if (m[4] === '-' && strict) throw patternError(`host pattern '${pattern}': write the subscript as [x:y]; [x-y] was removed from Ansible`, options);
    }
  }
  const matcher = compileTerm(expression);
  const results: string[] = [];
  const matchingGroups = [...inv.groups.keys()].filter((g) => matcher(g));
  for (const g of matchingGroups) results.push(...hostsOfGroup(inv, g));
  if (matchingGroups.length === 0 || expression[0] === '~' || /[.?*[]/.test(expression)) {
    for (const h of inv.hosts.keys()) if (matcher(h)) results.push(h);
  }
  if (strict && results.length === 0 && matchingGroups.length === 0 && expression !== 'all') {
    const names = [...new Set([...inv.groups.keys(), ...inv.hosts.keys()])];
    const closest = closestNames(expression, names);
    throw patternError(
      `host pattern '${pattern}': '${expression}' matches no host or group${options.inventoryPath ? ` in ${options.inventoryPath}` : ''}` +
        (closest.length ? `; closest: ${closest.join(', ')}` : '; the inventory has no hosts or groups'),
      options,
    );
  }
  return applySubscript(results, subscript, term);
}

function applySubscript(hosts: string[], subscript: { start: number; end?: number } | undefined, term: string): string[] {
  if (hosts.length === 0 || !subscript) return hosts;
  const { start, end } = subscript;
  // Python list semantics: hosts[start] raises when out of range, slices never do
  if (end) {
    const last = end === -1 ? hosts.length - 1 : end;
    return pySlice(hosts, start, last + 1);
  }
  const index = start < 0 ? hosts.length + start : start;
  if (index < 0 || index >= hosts.length) throw new AnsibleLevelError(`no hosts matched the subscripted pattern '${term}' (it has ${hosts.length})`);
  return [hosts[index]];
}

function pySlice<T>(list: T[], start: number, stop: number): T[] {
  const norm = (i: number) => (i < 0 ? Math.max(0, list.length + i) : Math.min(i, list.length));
  return list.slice(norm(start), norm(stop));
}

function compileTerm(expression: string): (name: string) => boolean {
  if (expression[0] === '~') {
    let re: RegExp;
    try {
      re = pythonRegex(expression.slice(1));
    } catch (error) {
      throw new AnsibleLevelError(`'${expression}' is not a valid regular expression (${(error as Error).message})`);
    }
    return (name) => {
      re.lastIndex = 0;
      return re.test(name);
    };
  }
  const re = fnmatchRegex(expression);
  return (name) => re.test(name);
}

/** Python's re.match: anchored at the start only (sticky), with Python-only syntax translated. */
function pythonRegex(source: string): RegExp {
  let flags = 'y';
  let body = source;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(body);
  if (inline) {
    body = body.slice(inline[0].length);
    for (const f of inline[1]) if ('ims'.includes(f) && !flags.includes(f)) flags += f;
  }
  body = body
    .replace(/\(\?P</g, '(?<')
    .replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\Z/g, '$');
  return new RegExp(body, flags);
}

/** Python's fnmatch.translate: *, ?, [seq], [!seq]; case-sensitive, whole name. */
export function fnmatchRegex(pattern: string): RegExp {
  let out = '';
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i++];
    if (c === '*') {
      if (!out.endsWith('.*')) out += '.*';
    } else if (c === '?') {
      out += '.';
    } else if (c === '[') {
      let j = i;
      if (j < n && pattern[j] === '!') j++;
      if (j < n && pattern[j] === ']') j++;
      while (j < n && pattern[j] !== ']') j++;
      if (j >= n) {
        out += '\\[';
      } else {
        let stuff = pattern.slice(i, j).replace(/\\/g, '\\\\');
        i = j + 1;
        if (stuff[0] === '!') stuff = '^' + stuff.slice(1);
        else if (stuff[0] === '^' || stuff[0] === '[') stuff = '\\' + stuff;
        out += `[${stuff}]`;
      }
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  try {
    return new RegExp(`^(?:${out})$`, 's');
  } catch {
    return /(?!)/; // e.g. a reversed range [z-a]: Python's fnmatch makes it match nothing
  }
}
