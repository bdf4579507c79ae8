/**
 * The registry as plain data: what infra.yml and keys/<handle>/member.yml hold after validation.
 * The pure core works only on these shapes; the registry load (src/adapters/registry-load.ts) produces them.
 * Dates are ISO `YYYY-MM-DD` strings throughout (no Date objects, no time zones).
 */
export type IsoDate = string;

export interface SshPolicy {
  allowed_types: string[]; // ed25519, ed25519-sk, ecdsa, ecdsa-sk, rsa
  min_rsa_bits: number;
  max_age_days: number;
  /** Ansible host pattern: hosts reached only from inside the VPN (audit: vpn-bypass). */
  vpn_only_hosts?: string;
  /** What sshd on every host must allow at most (audit --live: host-sshd-policy); defaults in core/sshd-policy.ts. */
  host?: SshHostPolicy;
}

/** policy.ssh.host in infra.yml: sshd's effective settings the co-op expects on its hosts. */
export interface SshHostPolicy {
  password_authentication: boolean;
  kbd_interactive_authentication: boolean;
  /** The most PermitRootLogin may allow: no < forced-commands-only < prohibit-password < yes. */
  permit_root_login: 'no' | 'forced-commands-only' | 'prohibit-password' | 'yes';
  pubkey_authentication: boolean;
  permit_user_environment: boolean;
  hostbased_authentication: boolean;
}

export interface Policy {
  ssh: SshPolicy;
  tokens: { rotate_every_days: number };
  audit: { min_members_per_host: number; horizon_days: number };
  /** Optional in the type so older literals still compile; validation always fills it. */
  vpn?: { idle_days: number };
  /** Signed changes (docs/reference.md "Signed changes"); absent: defaults (two_admins once there are two admins). */
  changes?: ChangesPolicy;
  /** SSH user certificates (docs/reference.md "Shift access"); validation always fills it. */
  certs?: CertPolicy;
}

export interface ChangesPolicy {
  /** Protected changes need a second admin's approval; unset: on once infra.yml names two admins. */
  two_admins?: boolean;
  /** `infra render` refuses a HEAD whose history since the pinned commit does not verify. */
  require_signed?: boolean;
}

export interface CertPolicy {
  /** The longest window `certs sign` issues, in hours (default 24). */
  max_hours: number;
  /** The extensions every certificate carries (default: OpenSSH's five permit-* extensions). */
  extensions: string[];
}

/** One SSH user certificate the registry issued (member.yml `certificates`). Times are UTC `YYYY-MM-DDTHH:MM:SSZ`. */
export interface CertificateEntry {
  serial: number;
  key: string; // the name of the member's ssh_keys entry it certifies
  fingerprint: string; // SHA256:... of that key when signed
  ca: string; // SHA256:... of the CA that signed it
  valid_after: string;
  valid_before: string;
  signed_by: string;
  reason?: string;
  revoked?: IsoDate;
}

export interface Grant {
  groups: string[];
  hosts: string; // Ansible host pattern
  user: string;
  vpn_only?: boolean;
  environments?: string[]; // default: all
}

export interface VpnNetwork {
  name: string;
  ipv4?: string; // CIDR
  ipv6?: string; // CIDR
  endpoint: string; // host:port or [v6]:port
  server_public_key: string;
  reserved: string[];
  dns?: string[];
  allowed_ips: string[];
  keepalive?: number;
  mtu?: number;
  servers: string; // Ansible host pattern
}

export interface RenderOptions {
  compat?: 'provision_ssh_keys';
}

export interface InfraConfig {
  org: string;
  admins: string[];
  environments: Record<string, string>; // name -> inventory folder, relative to the registry root
  policy: Policy;
  access: Grant[];
  vpn: Record<string, VpnNetwork>;
  render?: RenderOptions;
}

export interface SshKeyEntry {
  name: string;
  key: string; // `type base64 [comment]`, as written in member.yml
  added: IsoDate;
  expires?: IsoDate;
  source?: string;
}

export interface VpnPeer {
  device: string;
  network: string;
  public_key: string;
  addresses: string[]; // CIDR with /32 or /128
  added: IsoDate;
}

export type TokenKind = 'github' | 'matrix' | 'generic';

export type TokenConsumer =
  | { github_secret: { repo: string; name: string } }
  | { github_env_secret: { repo: string; environment: string; name: string } }
  | { github_org_secret: { org: string; name: string } }
  | { ansible_vault_var: { environment: string; group: string; var: string } };

/** A rotation in progress: the new value waits in tokens/<name>.pending.asc until every consumer in `left` has it. */
export interface PendingRotation {
  started_at: IsoDate;
  started_by: string;
  left: string[]; // consumers still to update, in CLI form (see core/tokens.ts formatConsumer)
}

export interface TokenEntry {
  name: string;
  kind: TokenKind;
  rotate_every_days?: number;
  rotated_at?: IsoDate;
  rotated_by?: string;
  expires_at?: IsoDate; // github: as GET /user's expiration header says
  homeserver?: string; // matrix (required there)
  readable_by?: string[]; // admins the current value was ever encrypted to since the last rotation
  consumers: TokenConsumer[];
  pending?: PendingRotation;
}

export interface Member {
  handle: string;
  name: string;
  kind: 'human' | 'bot';
  org: string;
  email?: string;
  github?: string;
  gitlab?: string;
  status: 'active' | 'departed';
  departed?: IsoDate;
  groups: string[];
  ssh_keys: SshKeyEntry[];
  vpn_peers: VpnPeer[];
  tokens: TokenEntry[];
  /** SSH user certificates issued to this member (absent: none). */
  certificates?: CertificateEntry[];
  /** true when keys/<handle>/pgp.asc exists */
  has_pgp: boolean;
}

export interface Registry {
  root: string; // absolute path
  config: InfraConfig;
  members: Member[]; // sorted by handle
}

/** Environment names in infra.yml (also the ENV part of an ansible_vault_var consumer). */
export const ENV_RE = /^[a-z][a-z0-9_-]{0,31}$/;
export const HANDLE_RE = /^[a-z][a-z0-9-]{0,31}$/;
/** GitHub logins: alphanumerics and single inner hyphens, at most 39 characters. */
export const GITHUB_LOGIN_RE = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
/** GitLab usernames: letters, digits, `_`, `-`, `.`; not starting with `-` or `.`, not ending with `.`. */
export const GITLAB_USERNAME_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,253}[A-Za-z0-9_-])?$/;
/** Names of keys, devices, tokens: safe in paths, YAML and authorized_keys comments. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const DEFAULT_POLICY: Policy = {
  ssh: { allowed_types: ['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa'], min_rsa_bits: 3072, max_age_days: 730 },
  tokens: { rotate_every_days: 90 },
  audit: { min_members_per_host: 2, horizon_days: 30 },
  vpn: { idle_days: 90 },
};
