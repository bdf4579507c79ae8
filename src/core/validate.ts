/**
 * Validation of the registry's plain data. Pure: the store parses YAML and hands over the data plus a
 * `locate` function (path -> line) so every problem can be printed as `file:line: field: problem`.
 * Validation collects every problem instead of stopping at the first one. The work is split by file:
 * validate-config.ts (infra.yml), validate-member.ts (member.yml), cross-check.ts (across files), and
 * validate-fields.ts (what they share); this module is what the rest of infra imports.
 */
import { shellQuote } from '../lib/shell-quote.js';
import type { Problem } from '../lib/errors.js';
import { InfraError } from '../lib/errors.js';
import { keyParser, type ParseKey } from './key-summary.js';
import { policyProblems } from './ssh-key.js';
import { HANDLE_RE, type InfraConfig, type Member } from './types.js';
import { fieldName, printable } from './validate-fields.js';
import type { Located } from './cross-check.js';

export {
  EMAIL_RE,
  ENV_RE,
  errorText,
  fieldName,
  GROUP_RE,
  isIsoDate,
  KEY_FAMILIES,
  MAX_DAYS,
  MAX_TEXT_LENGTH,
  ORG_RE,
  printable,
  Problems,
  textProblem,
  TOKEN_KINDS,
  UNIX_USER_RE,
  type Locate,
  type Path,
} from './validate-fields.js';
export { validateConfig } from './validate-config.js';
export { validateMember } from './validate-member.js';
export { crossCheck, crossCheckClean, crossCheckMemberAlone, memberFacts, peerAddressProblems, type Located, type MemberFacts } from './cross-check.js';

/** Policy verdicts on registered keys (type and size); age and expiry are the audit's, judged against a date. */
/** `parseKey`: the load's key summaries when it has them (see keyParser), so 30,000 keys are not parsed again. */
export function policyCheck(config: InfraConfig, members: Member[], at: Located, parseKey: ParseKey = keyParser()): Problem[] {
  const out: Problem[] = [];
  for (const m of members)
    m.ssh_keys.forEach((k, i) => {
      for (const problem of policyProblems(parseKey(k.key), config.policy.ssh))
        out.push({
          file: at.memberFile(m.handle),
          line: at.memberLine(m.handle, ['ssh_keys', i, 'key']),
          field: fieldName(['ssh_keys', i, 'key']),
          message: `${problem}: replace it (\`infra keys add ${shellQuote(m.handle)} NEWKEY.pub\`) and remove this one (\`infra keys remove ${shellQuote(m.handle)} ${shellQuote(k.name)}\`)`,
        });
    });
  return out;
}

export function assertHandle(handle: string): void {
  if (!HANDLE_RE.test(handle))
    throw new InfraError(3, `handle "${printable(handle)}" is not valid: a lowercase letter first, then a-z, 0-9 or -, at most 32 characters`, {
      hint: 'for example: infra members add alice-m --name "Alice Moreau" ...',
    });
}
