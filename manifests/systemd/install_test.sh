#!/usr/bin/env bash
# Installs the build into a DESTDIR and checks the tree: the expected files,
# berthd.service naming the installed berthd, berthd looking for the
# installed berth-monitor, and the unit passing `systemd-analyze verify`.
# Usage: install_test.sh BUILD_DIR PREFIX
set -euo pipefail
build=$1
prefix=$2
tmp=$(mktemp -d /tmp/berth-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

dest="$tmp/root"
DESTDIR="$dest" cmake --install "$build" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "cmake --install"; }

# Exactly these files (the examples and CRDs as in the source tree).
src=$(cd "$(dirname "$0")/../.." && pwd)
{
  echo "$prefix/bin/berthd"
  echo "$prefix/bin/berthctl"
  echo "$prefix/libexec/berth/berth-monitor"
  echo "$prefix/lib/systemd/system/berthd.service"
  for f in "$src"/manifests/examples/*; do echo "$prefix/share/berth/examples/$(basename "$f")"; done
  for f in "$src"/crds/*; do echo "$prefix/share/berth/crds/$(basename "$f")"; done
  echo "$prefix/share/berth/cni/10-berth.conflist"
  echo "/etc/cni/net.d/10-berth.conflist"  # the DESTDIR had no CNI network
} | sort >"$tmp/want"
(cd "$dest" && find . -type f -o -type l) | sed 's|^\.||' | sort >"$tmp/got"
diff -u "$tmp/want" "$tmp/got" || fail "installed files differ from the expected list"
[ -x "$dest$prefix/bin/berthd" ] || fail "berthd is not executable"
[ -x "$dest$prefix/libexec/berth/berth-monitor" ] || fail "berth-monitor is not executable"
cmp -s "$src/manifests/examples/web.yaml" "$dest$prefix/share/berth/examples/web.yaml" ||
  fail "examples/web.yaml differs from the source"

# The default CNI network: installed where there is none, never beside
# another (the node's choice).
cmp -s "$src/hack/cni/10-berth.conflist" "$dest/etc/cni/net.d/10-berth.conflist" ||
  fail "/etc/cni/net.d/10-berth.conflist differs from hack/cni/10-berth.conflist"
# keeps_network FILE CONTENT: installed into a DESTDIR whose
# /etc/cni/net.d holds FILE, that file stays alone there.
keeps_network() {
  local stage="$tmp/with-$1"
  mkdir -p "$stage/etc/cni/net.d"
  echo "$2" >"$stage/etc/cni/net.d/$1"
  DESTDIR="$stage" cmake --install "$build" >"$stage.log" 2>&1 ||
    { cat "$stage.log"; fail "cmake --install beside the CNI network $1"; }
  [ "$(ls "$stage/etc/cni/net.d")" = "$1" ] ||
    fail "installed beside the CNI network $1: $(ls "$stage/etc/cni/net.d")"
}
keeps_network 05-mine.conflist '{"cniVersion": "1.0.0", "name": "mine", "plugins": []}'
# The single-plugin forms count too, as libcni reads them (*.conf, *.json).
keeps_network 10-mine.conf '{"cniVersion": "0.4.0", "name": "mine", "type": "bridge"}'
keeps_network 10-mine.json '{"cniVersion": "0.4.0", "name": "mine", "type": "bridge"}'

# The unit starts the installed berthd, on /etc/berth/manifests.
unit="$dest$prefix/lib/systemd/system/berthd.service"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$(wc -l <<<"$exec_start")" = 1 ] || fail "want one ExecStart, got: $exec_start"
read -r binary args <<<"$exec_start"
[ "$binary" = "$prefix/bin/berthd" ] || fail "ExecStart runs $binary, not $prefix/bin/berthd"
[[ "$args" == *"--manifests-dir=/etc/berth/manifests"* ]] || fail "ExecStart args: $args"
grep -q '@' "$unit" && fail "unsubstituted @VAR@ left in the unit: $(grep '@' "$unit")"
for line in Type=notify KillMode=process Delegate=yes Restart=always; do
  grep -qx "$line" "$unit" || fail "the unit lacks $line"
done

# berthd finds its monitor beside itself, else at the installed path.
grep -qaF "$prefix/libexec/berth/berth-monitor" "$dest$prefix/bin/berthd" ||
  fail "berthd does not look for $prefix/libexec/berth/berth-monitor"
[ ! -e "$dest$prefix/bin/berth-monitor" ] || fail "berth-monitor beside berthd too"

# systemd's own checks in a root directory made of the host's system units
# (the targets the unit refers to) and the installed tree over them, so the
# installed ExecStart binary must exist there: unknown keys or sections, bad
# values, a missing executable all fail.
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (apt-get install systemd)"
vroot="$tmp/vroot"
mkdir -p "$vroot/usr/lib/systemd/system" "$vroot/bin"
cp -a /usr/lib/systemd/system/. "$vroot/usr/lib/systemd/system/"
cp "$(type -P kill)" "$vroot/bin/kill"  # ExecReload's /bin/kill
cp -a "$dest/." "$vroot/"
verify() {  # verify UNIT_IN_VROOT LOG
  systemd-analyze verify --man=no --root="$vroot" "$vroot$1" >"$2" 2>&1
}
verify "$prefix/lib/systemd/system/berthd.service" "$tmp/verify.log" ||
  { cat "$tmp/verify.log"; fail "systemd-analyze verify"; }
# It prints warnings without failing: none is allowed either.
[ ! -s "$tmp/verify.log" ] || { cat "$tmp/verify.log"; fail "systemd-analyze verify warns"; }

# The same check rejects a broken copy (so it can fail), and a unit whose
# ExecStart names a binary that is not installed.
mkdir -p "$vroot/etc/systemd/system"
sed 's/^KillMode=process/KillMode=bogus/' "$unit" >"$vroot/etc/systemd/system/berthd-broken.service"
verify /etc/systemd/system/berthd-broken.service "$tmp/broken.log" || true
grep -q 'kill mode.*bogus' "$tmp/broken.log" || { cat "$tmp/broken.log"; fail "verify accepted KillMode=bogus"; }
rm "$vroot$prefix/bin/berthd"
if verify "$prefix/lib/systemd/system/berthd.service" "$tmp/missing.log"; then
  cat "$tmp/missing.log"; fail "verify accepted a unit without its berthd"
fi

# Installing under another prefix than the configured one is refused.
if cmake --install "$build" --prefix "$tmp/elsewhere" >"$tmp/other.log" 2>&1; then
  fail "cmake --install --prefix <other> succeeded"
fi
grep -q "configured for the prefix $prefix" "$tmp/other.log" || { cat "$tmp/other.log"; fail "no reason given"; }
[ ! -e "$tmp/elsewhere/bin/berthd" ] || fail "berthd installed under the other prefix"
echo PASS
