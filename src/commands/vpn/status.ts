import * as Args from '@oclif/core/args';
import type { VpnStatus } from '../../core/vpn-plan.js';
import { InfraCommand } from '../_shared/base-command.js';
import { ExitCode } from '../../lib/errors.js';
import { table } from '../../lib/style.js';
import { vpnStatus } from '../../services/vpn.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
const bytes = (n: number) => {
  const u = Math.min(UNITS.length - 1, n > 0 ? Math.floor(Math.log2(n) / 10) : 0);
  return u === 0 ? `${n} B` : `${(n / 1024 ** u).toFixed(1)} ${UNITS[u]}`;
};

export default class VpnStatusCommand extends InfraCommand<VpnStatus> {
  static override summary = "Who is connected: a WireGuard server's `wg show all dump`, joined with the registry.";
  static override description = `Per member and device: last handshake, bytes received and sent, endpoint. Findings are the ones \`infra audit --wg-dump FILE\` reports: peers the registry does not know (unknown-peer), departed members' peers still on the server (departed-access), and peers without a handshake for policy.vpn.idle_days (idle-peer); exit 4 when one is high.
Reads the dump from FILE, or stdin with -; with neither, runs \`wg show all dump\` here (as root on the server).`;
  static override examples = ['wg show all dump | <%= config.bin %> vpn status -', 'wg show all dump > dump.txt && <%= config.bin %> vpn status dump.txt --json', '<%= config.bin %> vpn status            # runs `wg show all dump` here (as root)'];
  static override args = { file: Args.string({ description: 'output of `wg show all dump`, or - for stdin' }) };

  async run(): Promise<VpnStatus> {
    const { args } = await this.parseWith(VpnStatusCommand);
    const status = await vpnStatus(this.context(), { file: args.file });
    if (!this.jsonEnabled()) {
      const peerRows = status.peers.map((p) => [p.network, p.member + (p.member_status === 'departed' ? ' (departed)' : ''), p.device, p.interface, p.handshake, bytes(p.rx_bytes), bytes(p.tx_bytes), p.endpoint ?? '-']);
      if (peerRows.length) this.out(table(['NETWORK', 'MEMBER', 'DEVICE', 'INTERFACE', 'HANDSHAKE', 'RECEIVED', 'SENT', 'ENDPOINT'], peerRows));
      if (status.unknown.length) {
        this.out('\nUnknown peers (not in the registry):');
        this.out(table(['INTERFACE', 'PUBLIC KEY', 'ALLOWED IPS', 'HANDSHAKE', 'ENDPOINT'], status.unknown.map((u) => [u.interface, u.public_key, u.allowed_ips.join(', ') || '-', u.handshake, u.endpoint ?? '-'])));
      }
    }
    if (status.findings.some((f) => f.severity === 'high')) return this.finishWith(ExitCode.checkFailed, status);
    return status;
  }
}
