/**
 * The whole CLI as one module, which the build bundles (with @oclif/core and yaml) into dist/bundle/infra.cjs:
 * loading one file with a V8 code cache takes a fraction of resolving and compiling ~250 modules, which was
 * most of a short command's time (bin/load-cli.js). oclif finds the commands here (package.json oclif.commands,
 * strategy `explicit`); test/commands/cli-bundle.test.ts checks that every file in src/commands is listed.
 */
import Complete from './commands/__complete.js';
import AdminsAdd from './commands/admins/add.js';
import AdminsRemove from './commands/admins/remove.js';
import Approve from './commands/approve.js';
import Audit from './commands/audit.js';
import CaInit from './commands/ca/init.js';
import CaRotate from './commands/ca/rotate.js';
import CertsList from './commands/certs/list.js';
import CertsRevoke from './commands/certs/revoke.js';
import CertsSign from './commands/certs/sign.js';
import Check from './commands/check.js';
import EnvAdd from './commands/env/add.js';
import GrantsAdd from './commands/grants/add.js';
import GrantsList from './commands/grants/list.js';
import GrantsRemove from './commands/grants/remove.js';
import Init from './commands/init.js';
import KeysAdd from './commands/keys/add.js';
import KeysCheck from './commands/keys/check.js';
import KeysList from './commands/keys/list.js';
import KeysRemove from './commands/keys/remove.js';
import MembersAdd from './commands/members/add.js';
import MembersEdit from './commands/members/edit.js';
import MembersList from './commands/members/list.js';
import MembersOffboard from './commands/members/offboard.js';
import MembersShow from './commands/members/show.js';
import Render from './commands/render.js';
import TokensAdd from './commands/tokens/add.js';
import TokensList from './commands/tokens/list.js';
import TokensReencrypt from './commands/tokens/reencrypt.js';
import TokensRotate from './commands/tokens/rotate.js';
import TokensShow from './commands/tokens/show.js';
import VaultInit from './commands/vault/init.js';
import VaultPassword from './commands/vault/password.js';
import VaultRotate from './commands/vault/rotate.js';
import VpnJoin from './commands/vpn/join.js';
import VpnLeave from './commands/vpn/leave.js';
import VpnList from './commands/vpn/list.js';
import VpnNetworkAdd from './commands/vpn/network/add.js';
import VpnRekey from './commands/vpn/rekey.js';
import VpnStatus from './commands/vpn/status.js';
import Verify from './commands/verify.js';

export { run } from '@oclif/core/run';
export { flush } from '@oclif/core/flush';
export { handle } from '@oclif/core/handle';
export { default as notFound } from './commands/_shared/not-found.js';
export { default as helpOfUnknown } from './commands/_shared/help-of-unknown.js';
export { default as completionScripts } from './commands/_shared/completion-scripts.js';

export const COMMANDS = {
  '__complete': Complete,
  'admins:add': AdminsAdd,
  'admins:remove': AdminsRemove,
  'approve': Approve,
  'audit': Audit,
  'ca:init': CaInit,
  'ca:rotate': CaRotate,
  'certs:list': CertsList,
  'certs:revoke': CertsRevoke,
  'certs:sign': CertsSign,
  'check': Check,
  'env:add': EnvAdd,
  'grants:add': GrantsAdd,
  'grants:list': GrantsList,
  'grants:remove': GrantsRemove,
  'init': Init,
  'keys:add': KeysAdd,
  'keys:check': KeysCheck,
  'keys:list': KeysList,
  'keys:remove': KeysRemove,
  'members:add': MembersAdd,
  'members:edit': MembersEdit,
  'members:list': MembersList,
  'members:offboard': MembersOffboard,
  'members:show': MembersShow,
  'render': Render,
  'tokens:add': TokensAdd,
  'tokens:list': TokensList,
  'tokens:reencrypt': TokensReencrypt,
  'tokens:rotate': TokensRotate,
  'tokens:show': TokensShow,
  'vault:init': VaultInit,
  'vault:password': VaultPassword,
  'vault:rotate': VaultRotate,
  'vpn:join': VpnJoin,
  'vpn:leave': VpnLeave,
  'vpn:list': VpnList,
  'vpn:network:add': VpnNetworkAdd,
  'vpn:rekey': VpnRekey,
  'vpn:status': VpnStatus,
  'verify': Verify,
};
