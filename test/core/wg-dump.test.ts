import { thrown } from '../helpers/thrown.js';
import { describeHandshake, parseWgDump } from '../../src/core/wg-dump.js';


// Captured from `wg show all dump` (wireguard-tools v1.0.20210914) on a wireguard-go interface,
// plus a second interface and peers written in the same format.
const PRIVATE = 'GCpFHBGw21LLvW5dyMIB6CTOAHKANftCPz/C/OhhImw=';
const PRESHARED = 'S8fN1CPLerkQj9q+FWyIuBLRJXmiQ0GhXQ7D07EPoh0=';
const DUMP = [
  `wgt0\t${PRIVATE}\tNmI0uj56rI26j8eA1Ht8knityzmdkV6djjsf51jIdBw=\t52229\t0x1f`,
  `wgt0\tYLNFR1qlUrkSTnoZ+ozvXcPLWMuXwunTKxYmuv3n0EQ=\t${PRESHARED}\t192.0.2.1:51820\t10.77.0.5/32,fd77:77::5/128\t0\t0\t0\t25`,
  'wgt0\tdwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\t(none)\t[2001:db8::7]:40000\t10.77.0.6/32\t1767225600\t1234\t98765432101\toff',
  'wg1\t(none)\t(none)\t0\toff',
  'wg1\tXasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=\t(none)\t(none)\t(none)\t0\t0\t0\toff',
  '',
].join('\n');

describe('parseWgDump', () => {
  it('reads interfaces and peers', () => {
    expect(parseWgDump(DUMP)).toEqual({
      interfaces: [
        { name: 'wgt0', publicKey: 'NmI0uj56rI26j8eA1Ht8knityzmdkV6djjsf51jIdBw=', listenPort: 52229, fwmark: 31 },
        { name: 'wg1', publicKey: null, listenPort: 0, fwmark: null },
      ],
      peers: [
        {
          interface: 'wgt0',
          publicKey: 'YLNFR1qlUrkSTnoZ+ozvXcPLWMuXwunTKxYmuv3n0EQ=',
          hasPresharedKey: true,
          endpoint: '192.0.2.1:51820',
          allowedIps: ['10.77.0.5/32', 'fd77:77::5/128'],
          latestHandshake: 0,
          transferRx: 0,
          transferTx: 0,
          persistentKeepalive: 25,
        },
        {
          interface: 'wgt0',
          publicKey: 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=',
          hasPresharedKey: false,
          endpoint: '[2001:db8::7]:40000',
          allowedIps: ['10.77.0.6/32'],
          latestHandshake: 1767225600,
          transferRx: 1234,
          transferTx: 98765432101,
          persistentKeepalive: null,
        },
        {
          interface: 'wg1',
          publicKey: 'XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=',
          hasPresharedKey: false,
          endpoint: null,
          allowedIps: [],
          latestHandshake: 0,
          transferRx: 0,
          transferTx: 0,
          persistentKeepalive: null,
        },
      ],
    });
  });

  it('keeps no private or preshared key', () => {
    const json = JSON.stringify(parseWgDump(DUMP));
    expect(json).not.toContain(PRIVATE);
    expect(json).not.toContain(PRESHARED);
  });

  it('reads CRLF and empty input', () => {
    expect(parseWgDump(DUMP.replace(/\n/g, '\r\n')).peers).toHaveLength(3);
    expect(parseWgDump('')).toEqual({ interfaces: [], peers: [] });
    expect(parseWgDump('\n\n')).toEqual({ interfaces: [], peers: [] });
  });

  const lines = DUMP.split('\n');
  it.each([
    ['a peer line cut to 8 fields', 2, lines[1].split('\t').slice(0, 8).join('\t'), 'fields'],
    ['a peer line cut to 5 fields', 3, lines[2].split('\t').slice(0, 5).join('\t'), 'listed twice'],
    ['an interface line cut to 4 fields', 1, lines[0].split('\t').slice(0, 4).join('\t'), 'fields'],
    ['a peer line cut inside its key', 2, lines[1].slice(0, 20), 'fields'],
    ['a peer line with a broken counter', 3, lines[2].replace('1234', '12x4'), 'transfer-rx'],
    ['spaces instead of tabs', 1, lines[0].replace(/\t/g, '  '), 'fields'],
  ])('refuses %s and names line %i', (_label, lineNo, broken, why) => {
    const text = lines.map((l, i) => (i + 1 === lineNo ? broken : l)).join('\n');
    const e = thrown(() => parseWgDump(text));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(`line ${lineNo}:`);
    expect(e.message).toContain(why);
    expect(e.message).not.toContain(PRIVATE);
    expect(e.message).not.toContain(PRESHARED);
  });
});

describe('describeHandshake', () => {
  const now = 1_800_000_000;
  it.each([
    [0, 'never'],
    [now, 'just now'],
    [now + 30, 'just now'],
    [now - 1, '1 second ago'],
    [now - 59, '59 seconds ago'],
    [now - 60, '1 minute ago'],
    [now - 120, '2 minutes ago'],
    [now - 3599, '59 minutes ago'],
    [now - 3600, '1 hour ago'],
    [now - 86399, '23 hours ago'],
    [now - 86400, '1 day ago'],
    [now - 3 * 86400 - 5000, '3 days ago'],
  ])('%i -> %s', (epoch, text) => {
    expect(describeHandshake(epoch, now)).toBe(text);
  });
});
