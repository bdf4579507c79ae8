#!/bin/sh
# What `infra audit --live` runs on each host (through Ansible's `script` module, as root when the
# inventory lets Ansible become root): it asks the host's sshd for its effective configuration and reads
# the files sshd would read, and prints them in a line format infra parses strictly. It changes nothing.
#
#   infra-live-collect.sh SSHD_CONFIG WG OUTSIDE_ADDR [USER=ADDR ...]
#
#   SSHD_CONFIG   the sshd_config sshd runs with (`-` for sshd's own default)
#   WG            `wg` to add `wg show all dump` (VPN servers), `-` not to
#   OUTSIDE_ADDR  the address root's view is asked for (`sshd -T -C user=root,host=A,addr=A`)
#   USER=ADDR     a granted user, and the address its members connect from
#
# Output, one record a line; every free-form field is hex (prefixed `x`, so an empty one is `x`):
#   infra-live-collect 1
#   hostview RC xOUTPUT                          sshd -T for root (stdout, or stderr when RC is not 0)
#   view USER RC xOUTPUT                         sshd -T for USER
#   passwd USER UID xHOME | nopasswd USER
#   file USER KIND xPATH STATE [SIZE|xCONTENT]   KIND keys|principals|ca|revoked; STATE ok|absent|notfile|toolarge|badtoken
#   wg RC xOUTPUT
#   end
set -u
set -f
umask 077
LC_ALL=C
export LC_ALL
MAX=262144

hex() { printf 'x'; od -An -v -tx1 | tr -d ' \n'; }

SSHD=
for c in /usr/sbin/sshd /usr/local/sbin/sshd /sbin/sshd /usr/bin/sshd; do
  if [ -x "$c" ]; then SSHD=$c; break; fi
done

CONFIG=${1:--}; WG=${2:--}; OUTSIDE=${3:-192.0.2.1}
shift 3 2>/dev/null || set --

KEYS='^(authorizedkeysfile|authorizedkeyscommand|authorizedkeyscommanduser|authorizedprincipalsfile|authorizedprincipalscommand|authorizedprincipalscommanduser|trustedusercakeys|revokedkeys|passwordauthentication|kbdinteractiveauthentication|permitrootlogin|pubkeyauthentication|permituserenvironment|hostbasedauthentication|permitemptypasswords) '

# sshd -T for one connection spec: prints `RC xOUTPUT` (the settings above, or what sshd said when it failed).
sshd_view() {
  if [ -z "$SSHD" ]; then printf '127 '; printf 'no sshd found in /usr/sbin, /usr/local/sbin, /sbin or /usr/bin' | hex; echo; return; fi
  if [ "$CONFIG" = - ]; then out=$("$SSHD" -T -C "$1" 2>&1); rc=$?
  else out=$("$SSHD" -T -f "$CONFIG" -C "$1" 2>&1); rc=$?; fi
  printf '%s ' "$rc"
  if [ "$rc" -eq 0 ]; then printf '%s\n' "$out" | grep -iE "$KEYS" | head -c 65536 | hex
  else printf '%s' "$out" | head -c 4096 | hex; fi
  echo
}

# One file sshd would read for USER: its state and, when it is a regular file of bounded size, its bytes.
read_file() {
  printf 'file %s %s ' "$1" "$2"; printf '%s' "$3" | hex
  if [ ! -e "$3" ] && [ ! -L "$3" ]; then echo ' absent'; return; fi
  if [ ! -f "$3" ]; then echo ' notfile'; return; fi
  size=$(wc -c < "$3" 2>/dev/null | tr -d ' ') || size=
  case $size in ''|*[!0-9]*) echo ' notfile'; return;; esac
  if [ "$size" -gt "$MAX" ]; then echo " toolarge $size"; return; fi
  printf ' ok '; head -c "$MAX" "$3" | hex; echo
}

# sshd's expansion of %h %u %U %% (auth.c expand_authorized_keys); a relative result is under the home.
# Exit 1 on a token sshd does not know (sshd then refuses the file).
expand() {
  T=$1 H=$2 N=$3 I=$4 awk 'BEGIN {
    t = ENVIRON["T"]; out = ""; n = length(t)
    for (i = 1; i <= n; i++) {
      c = substr(t, i, 1)
      if (c != "%") { out = out c; continue }
      i++; d = substr(t, i, 1)
      if (d == "h") out = out ENVIRON["H"]; else if (d == "u") out = out ENVIRON["N"]
      else if (d == "U") out = out ENVIRON["I"]; else if (d == "%") out = out "%"; else exit 1
    }
    if (substr(out, 1, 1) != "/") out = ENVIRON["H"] "/" out
    print out
  }'
}

# The value of one setting in a view (lower-case name; sshd -T prints `name value...`).
setting() { printf '%s\n' "$1" | awk -v k="$2" 'tolower($1) == k { $1 = ""; sub(/^ /, ""); print; exit }'; }

echo 'infra-live-collect 1'
printf 'hostview '; sshd_view "user=root,host=$OUTSIDE,addr=$OUTSIDE"

for arg in "$@"; do
  user=${arg%%=*}; addr=${arg#*=}
  case $user in ''|*[!a-z0-9_-]*) continue;; esac
  case $addr in ''|*[!0-9a-fA-F.:]*) continue;; esac
  printf 'view %s ' "$user"; sshd_view "user=$user,host=$addr,addr=$addr"
  entry=$(getent passwd "$user" 2>/dev/null | head -n 1)
  if [ -z "$entry" ]; then echo "nopasswd $user"; continue; fi
  uid=$(printf '%s\n' "$entry" | cut -d: -f3); home=$(printf '%s\n' "$entry" | cut -d: -f6)
  printf 'passwd %s %s ' "$user" "$uid"; printf '%s' "$home" | hex; echo
  if [ -z "$SSHD" ]; then continue; fi
  if [ "$CONFIG" = - ]; then conf=$("$SSHD" -T -C "user=$user,host=$addr,addr=$addr" 2>/dev/null)
  else conf=$("$SSHD" -T -f "$CONFIG" -C "user=$user,host=$addr,addr=$addr" 2>/dev/null); fi
  [ -n "$conf" ] || continue
  n=0
  files=$(setting "$conf" authorizedkeysfile)
  [ -n "$files" ] || files='.ssh/authorized_keys .ssh/authorized_keys2'
  [ "$files" = none ] && files=
  for t in $files; do
    n=$((n + 1)); [ "$n" -le 16 ] || break
    if p=$(expand "$t" "$home" "$user" "$uid"); then read_file "$user" keys "$p"
    else printf 'file %s keys ' "$user"; printf '%s' "$t" | hex; echo ' badtoken'; fi
  done
  pf=$(setting "$conf" authorizedprincipalsfile)
  if [ -n "$pf" ] && [ "$pf" != none ]; then
    if p=$(expand "$pf" "$home" "$user" "$uid"); then read_file "$user" principals "$p"
    else printf 'file %s principals ' "$user"; printf '%s' "$pf" | hex; echo ' badtoken'; fi
  fi
  ca=$(setting "$conf" trustedusercakeys)
  if [ -n "$ca" ] && [ "$ca" != none ]; then read_file "$user" ca "$ca"; fi
  rk=$(setting "$conf" revokedkeys)
  if [ -n "$rk" ] && [ "$rk" != none ]; then read_file "$user" revoked "$rk"; fi
done

if [ "$WG" = wg ]; then
  out=$(wg show all dump 2>&1); rc=$?
  printf 'wg %s ' "$rc"; printf '%s' "$out" | head -c 1048576 | hex; echo
fi
echo end
