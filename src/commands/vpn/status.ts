import { Args } from '@oclif/core';
import { readInput } from '../../adapters/input.js';
import { wgShowDump } from '../../adapters/wg.js';
import { parseWgDump } from '../../core/wg-dump.js';
import { vpnStatus, type VpnStatus } from '../../core/vpn-plan.js';
import { InfraCommand } from '../../lib/base-command.js';
import { clean, red, table } from '../../lib/style.js';

export type VpnStatusResult = VpnStatus;

const bytes = (n: number) => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
};

export default class VpnStatusCommand extends InfraCommand<VpnStatusResult> {
  static override summary = "Who is connected: a WireGuard server's `wg show all dump`, joined with the registry.";
  static override description = `Per member and device: last handshake, bytes received and sent, endpoint. Peers the registry does not know, and departed members' peers still on the server, are reported as findings (codes unknown-peer and departed-access, as in \`infra audit\`).
Reads the dump from FILE, or stdin with -; with neither, runs \`wg show all dump\` here (as root on the server).`;
  static override examples = [
    'ssh vpn1 sudo wg show all dump | <%= config.bin %> vpn status -',
    '<%= config.bin %> vpn status dump.txt --json',
    'sudo <%= config.bin %> vpn status',
  ];
  static override args = { file: Args.string({ description: 'output of `wg show all dump`, or - for stdin' }) };

  async run(): Promise<VpnStatusResult> {
    const { args } = await this.parseWith(VpnStatusCommand);
    const { registry } = await this.context().store.load();
    const text = args.file !== undefined ? await readInput(args.file) : await wgShowDump();
    const status = vpnStatus(parseWgDump(text), registry, Math.floor(Date.now() / 1000));
    if (!this.jsonEnabled()) {
      if (status.peers.length)
        this.out(
          table(
            ['NETWORK', 'MEMBER', 'DEVICE', 'INTERFACE', 'HANDSHAKE', 'RECEIVED', 'SENT', 'ENDPOINT'],
            status.peers.map((p) => [p.network, p.member + (p.member_status === 'departed' ? ' (departed)' : ''), p.device, p.interface, p.handshake, bytes(p.rx_bytes), bytes(p.tx_bytes), p.endpoint ?? '-']),
          ),
        );
      else this.say('no peer of the registry is on these interfaces');
      if (status.unknown.length) {
        this.out('\nUnknown peers (not in the registry):');
        this.out(table(['INTERFACE', 'PUBLIC KEY', 'ALLOWED IPS', 'HANDSHAKE', 'ENDPOINT'], status.unknown.map((u) => [u.interface, u.public_key, u.allowed_ips.join(', ') || '-', u.handshake, u.endpoint ?? '-'])));
      }
      if (status.absent.length) this.say(`not on these interfaces: ${status.absent.map((a) => clean(`${a.member}/${a.device} (${a.network})`)).join(', ')}`);
      for (const f of status.findings) this.say(`${red(f.severity)} ${f.code} ${clean(f.subject)}: ${clean(f.detail)}\n  fix: ${clean(f.fix)}`);
    }
    return status;
  }
}
