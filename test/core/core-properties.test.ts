/**
 * Property tests (fast-check) of the pure core: host-pattern algebra, the `wg show all dump` parser and
 * address allocation. The run count of each property is in RUNS and in the test names.
 */
import fc from 'fast-check';
import { InfraError } from '../../src/lib/errors.js';
import { resolvePattern } from '../../src/core/host-pattern.js';
import { parseYamlInventory, type Inventory } from '../../src/core/inventory.js';
import { allocate, cidrEnd, formatAddress, parseCidr, type Family } from '../../src/core/ip-alloc.js';
import { parseWgDump, type WgDump } from '../../src/core/wg-dump.js';

// Runs per property, a third of what they started with (no bug was found by the extra runs, which cost seconds of
// CPU a run); fast-check draws new cases every run, so CI keeps exploring.
const RUNS = { patterns: 100, dumpNoise: 600, dumpRoundTrip: 200, allocate: 300 } as const;

// ------------------------------------------------------------------ host patterns

const GROUPS = ['web', 'db', 'bbb', 'prod', 'toString', 'hasOwnProperty'] as const;
const HOSTS = ['web1', 'web2', 'db1', 'bbb1', 'bbb2', 'valueOf', 'constructor', 'x'] as const;

/** An inventory: each group's direct hosts and (acyclic: only later groups) children. */
const inventoryModel = fc.record({
  members: fc.array(fc.subarray([...HOSTS]), { minLength: GROUPS.length, maxLength: GROUPS.length }),
  children: fc.array(fc.subarray([...GROUPS]), { minLength: GROUPS.length, maxLength: GROUPS.length }),
  ungrouped: fc.subarray([...HOSTS]),
});

function buildInventory(m: { members: string[][]; children: string[][]; ungrouped: string[] }): Inventory {
  const lines = ['all:', '  hosts:', ...m.ungrouped.map((h) => `    ${h}:`), '  children:'];
  GROUPS.forEach((g, i) => {
    lines.push(`    ${g}:`, '      hosts:', ...m.members[i].map((h) => `        ${h}:`), '      children:');
    for (const c of m.children[i]) if (GROUPS.indexOf(c as (typeof GROUPS)[number]) > i) lines.push(`        ${c}:`);
  });
  return parseYamlInventory(lines.join('\n'), 'hosts.yml');
}

const name = fc.constantFrom<string>(...GROUPS, ...HOSTS, 'all', 'nosuch');
const resolve = (pattern: string, inv: Inventory) => resolvePattern(pattern, inv, { strict: false });

describe(`host patterns (${RUNS.patterns} runs each)`, () => {
  it('a:&b is a filtered to the hosts b selects, in a\'s order', () => {
    fc.assert(
      fc.property(inventoryModel, name, name, (m, a, b) => {
        const inv = buildInventory(m);
        const right = new Set(resolve(b, inv));
        expect(resolve(`${a}:&${b}`, inv)).toEqual(resolve(a, inv).filter((h) => right.has(h)));
      }),
      { numRuns: RUNS.patterns },
    );
  });

  it('a:!b is a without the hosts b selects', () => {
    fc.assert(
      fc.property(inventoryModel, name, name, (m, a, b) => {
        const inv = buildInventory(m);
        const right = new Set(resolve(b, inv));
        expect(resolve(`${a}:!${b}`, inv)).toEqual(resolve(a, inv).filter((h) => !right.has(h)));
      }),
      { numRuns: RUNS.patterns },
    );
  });

  it('a:b is a, then the hosts of b not already listed; a,b is the same', () => {
    fc.assert(
      fc.property(inventoryModel, name, name, (m, a, b) => {
        const inv = buildInventory(m);
        const first = resolve(a, inv);
        const union = [...first, ...resolve(b, inv).filter((h) => !first.includes(h))];
        expect(resolve(`${a}:${b}`, inv)).toEqual(union);
        expect(resolve(`${a},${b}`, inv)).toEqual(union);
      }),
      { numRuns: RUNS.patterns },
    );
  });

  it('where ! and & terms are written does not matter (Ansible applies plain, then &, then !)', () => {
    fc.assert(
      fc.property(inventoryModel, fc.array(fc.tuple(fc.constantFrom('', '&', '!'), name), { minLength: 1, maxLength: 5 }), fc.nat(), (m, terms, seed) => {
        const inv = buildInventory(m);
        const written = terms.map(([op, n]) => `${op}${n}`);
        // the same terms with the operator terms moved around; plain terms keep their order among themselves
        const plain = written.filter((t) => !/^[!&]/.test(t));
        const operators = written.filter((t) => /^[!&]/.test(t));
        const shuffled = [...operators].sort((x, y) => ((x.length * 31 + seed) % 7) - ((y.length * 31 + seed) % 7));
        const moved = [...shuffled.slice(0, seed % (shuffled.length + 1)), ...plain, ...shuffled.slice(seed % (shuffled.length + 1))];
        expect(resolve(moved.join(':'), inv)).toEqual(resolve(written.join(':'), inv));
      }),
      { numRuns: RUNS.patterns },
    );
  });

  it('all lists every host once; a group lists only hosts of the inventory; !a alone is all:!a', () => {
    fc.assert(
      fc.property(inventoryModel, name, (m, a) => {
        const inv = buildInventory(m);
        const all = resolve('all', inv);
        expect(new Set(all).size).toBe(all.length);
        expect(new Set(all)).toEqual(new Set(inv.hosts.keys()));
        for (const h of resolve(a, inv)) expect(inv.hosts.has(h)).toBe(true);
        expect(resolve(`!${a}`, inv)).toEqual(resolve(`all:!${a}`, inv));
        expect(resolve(`${a}:&${a}`, inv)).toEqual(resolve(a, inv));
        expect(resolve(`${a}:!${a}`, inv)).toEqual([]);
      }),
      { numRuns: RUNS.patterns },
    );
  });
});

// ------------------------------------------------------------------ wg show all dump

const wgKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64'));
const ifaceName = fc.stringMatching(/^[a-z][a-z0-9_-]{0,14}$/);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));

const dumpModel = fc
  .uniqueArray(
    fc.record({
      name: ifaceName,
      privateKey: fc.option(wgKey, { nil: null }),
      publicKey: fc.option(wgKey, { nil: null }),
      listenPort: fc.nat(65535),
      fwmark: fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: null }),
      peers: fc.array(
        fc.record({
          publicKey: wgKey,
          presharedKey: fc.option(wgKey, { nil: null }),
          endpoint: fc.option(fc.tuple(ipv4, fc.integer({ min: 1, max: 65535 })).map(([a, p]) => `${a}:${p}`), { nil: null }),
          allowedIps: fc.array(fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`), { maxLength: 3 }),
          latestHandshake: fc.nat(),
          transferRx: fc.nat(),
          transferTx: fc.nat(),
          persistentKeepalive: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
        }),
        { maxLength: 4 },
      ),
    }),
    { selector: (i) => i.name, maxLength: 3 },
  );

type DumpModel = typeof dumpModel extends fc.Arbitrary<infer T> ? T : never;

/** The dump as `wg show all dump` prints it (wg's ipc.c / show.c formats). */
function printDump(model: DumpModel): string {
  const lines: string[] = [];
  for (const i of model) {
    lines.push([i.name, i.privateKey ?? '(none)', i.publicKey ?? '(none)', i.listenPort, i.fwmark === null ? 'off' : `0x${i.fwmark.toString(16)}`].join('\t'));
    for (const p of i.peers)
      lines.push(
        [
          i.name,
          p.publicKey,
          p.presharedKey ?? '(none)',
          p.endpoint ?? '(none)',
          p.allowedIps.length ? p.allowedIps.join(',') : '(none)',
          p.latestHandshake,
          p.transferRx,
          p.transferTx,
          p.persistentKeepalive ?? 'off',
        ].join('\t'),
      );
  }
  return lines.map((l) => `${l}\n`).join('');
}

function expectedDump(model: DumpModel): WgDump {
  return {
    interfaces: model.map((i) => ({ name: i.name, publicKey: i.publicKey, listenPort: i.listenPort, fwmark: i.fwmark })),
    peers: model.flatMap((i) =>
      i.peers.map((p) => ({
        interface: i.name,
        publicKey: p.publicKey,
        hasPresharedKey: p.presharedKey !== null,
        endpoint: p.endpoint,
        allowedIps: p.allowedIps,
        latestHandshake: p.latestHandshake,
        transferRx: p.transferRx,
        transferTx: p.transferTx,
        persistentKeepalive: p.persistentKeepalive,
      })),
    ),
  };
}

/** parseWgDump either returns a dump or throws InfraError 3; anything else (TypeError, RangeError) is a crash. */
function parsesOrRefuses(text: string): void {
  try {
    parseWgDump(text);
  } catch (e) {
    if (!(e instanceof InfraError) || e.exitCode !== 3) throw e;
    expect(e.message).toMatch(/^wg dump line \d+: /);
  }
}

describe('wg show all dump parser', () => {
  it(`a printed dump parses back to what was printed, private keys dropped (${RUNS.dumpRoundTrip} runs)`, () => {
    fc.assert(
      fc.property(dumpModel, (model) => {
        const text = printDump(model);
        const parsed = parseWgDump(text);
        expect(parsed).toEqual(expectedDump(model));
        for (const i of model) if (i.privateKey) expect(JSON.stringify(parsed)).not.toContain(i.privateKey);
        // CRLF line ends and a missing final newline read the same
        expect(parseWgDump(text.replace(/\n/g, '\r\n'))).toEqual(parsed);
        expect(parseWgDump(text.replace(/\n$/, ''))).toEqual(parsed);
      }),
      { numRuns: RUNS.dumpRoundTrip },
    );
  });

  it(`random text never crashes it: a dump or an exit-3 error naming the line (${RUNS.dumpNoise} runs)`, () => {
    const field = fc.oneof(fc.string({ maxLength: 12 }), wgKey, fc.constantFrom('(none)', 'off', '0', '0x1', '-1', '1e3', '', ' '), fc.nat().map(String));
    const line = fc.oneof(
      fc.string({ maxLength: 80, unit: 'binary' }),
      fc.array(field, { minLength: 1, maxLength: 11 }).map((f) => f.join('\t')),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), (lines) => parsesOrRefuses(lines.join('\n'))),
      { numRuns: RUNS.dumpNoise },
    );
  });

  it(`a printed dump cut or corrupted at any point never crashes it (${RUNS.dumpNoise} runs)`, () => {
    fc.assert(
      fc.property(dumpModel, fc.nat(), fc.string({ maxLength: 3, unit: 'binary' }), (model, at, junk) => {
        const text = printDump(model);
        const cut = at % (text.length + 1);
        parsesOrRefuses(text.slice(0, cut));
        parsesOrRefuses(text.slice(0, cut) + junk + text.slice(cut));
      }),
      { numRuns: RUNS.dumpNoise },
    );
  });
});

// ------------------------------------------------------------------ address allocation

/** Other ways to write an address: upper case, leading zeros, no `::`, with or without a host prefix. */
function spell(family: Family, value: bigint, style: number): string {
  const suffix = style & 1 ? `/${family === 4 ? 32 : 128}` : '';
  if (family === 4) return formatAddress(4, value) + suffix;
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  const text = [
    formatAddress(6, value),
    formatAddress(6, value).toUpperCase(),
    groups.map((g) => g.padStart(4, '0')).join(':'),
    groups.join(':').toUpperCase(),
  ][(style >> 1) % 4];
  return text + suffix;
}

const networkArb = fc.oneof(
  fc.record({ family: fc.constant<Family>(4), base: fc.constantFrom(0x0a4d0000n, 0xc0a80000n, 0x64400000n), prefix: fc.integer({ min: 24, max: 30 }) }),
  fc.record({ family: fc.constant<Family>(6), base: fc.constantFrom(0xfd770077000000000000000000000000n, 0x20010db8000000000000000000000000n), prefix: fc.integer({ min: 120, max: 126 }) }),
);

describe(`allocate (${RUNS.allocate} runs each)`, () => {
  it('gives the lowest address that is inside, not the network or broadcast address, and taken in no spelling; a full network is an exit-3 error', () => {
    fc.assert(
      fc.property(networkArb, fc.array(fc.tuple(fc.nat(), fc.nat(7)), { maxLength: 70 }), ({ family, base, prefix }, picks) => {
        const bits = family === 4 ? 32 : 128;
        const size = 1n << BigInt(bits - prefix);
        const network = base & ~(size - 1n) & ((1n << BigInt(bits)) - 1n);
        const cidr = `${formatAddress(family, network)}/${prefix}`;
        const takenValues = picks.map(([offset]) => network + (BigInt(offset) % size));
        const taken = picks.map(([, style], i) => spell(family, takenValues[i], style));
        // the other family and outside addresses are ignored, whatever they are
        taken.push(family === 4 ? 'fd77:77::2/128' : '10.77.0.2/32', spell(family, network + size, 0));

        const takenSet = new Set(takenValues);
        const first = network + 1n;
        const last = family === 4 ? network + size - 2n : network + size - 1n;
        let lowestFree: bigint | undefined;
        for (let v = first; v <= last; v++)
          if (!takenSet.has(v)) {
            lowestFree = v;
            break;
          }

        let got: string | undefined;
        try {
          got = allocate(cidr, taken);
        } catch (e) {
          if (!(e instanceof InfraError)) throw e;
          expect(e.exitCode).toBe(3);
          expect(e.message).toMatch(/ is full: /);
          expect(lowestFree).toBeUndefined();
          return;
        }
        const c = parseCidr(got, { strict: false });
        expect(got).toBe(`${formatAddress(family, c.network)}/${bits}`); // canonical text
        expect(c.network).toBe(lowestFree);
        expect(c.network).toBeGreaterThan(network);
        expect(c.network).toBeLessThanOrEqual(cidrEnd(parseCidr(cidr)));
        if (family === 4) expect(c.network).toBeLessThan(network + size - 1n);
        expect(takenSet.has(c.network)).toBe(false);
      }),
      { numRuns: RUNS.allocate },
    );
  });
});
