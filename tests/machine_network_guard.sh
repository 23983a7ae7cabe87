#!/usr/bin/env bash
# The machine's own network namespace, before and after the end-to-end
# tests: a ctest fixture records it before the first e2e test and checks it
# once the last one is done (every e2e test requires the fixture). No test
# may leave a link (a bridge, a veth), a CNI or Berth firewall rule, or a
# network namespace mount behind; tests that need a network make a
# namespace of their own. Only what appeared counts: what was there before
# (a node where berthd already runs with its default network) is not the
# tests'.
#
#   machine_network_guard.sh record FILE
#   machine_network_guard.sh check FILE
set -euo pipefail
mode=${1:?record or check}
file=${2:?file}

snapshot() {
  local name
  for name in /sys/class/net/*; do
    name=${name##*/}
    case "$name" in berth*|cni*|veth*) echo "link $name" ;; esac
  done
  if [[ -x /usr/sbin/iptables ]]; then
    local table
    for table in filter nat; do
      /usr/sbin/iptables -w 5 -t "$table" -S 2>/dev/null | grep -E 'CNI|BERTH|berth' |
        sed "s/^/rule $table /" || true
    done
  fi
  awk '$3 == "nsfs" { print "netns " $2 }' /proc/self/mounts
}

case "$mode" in
  record)
    snapshot | LC_ALL=C sort > "$file"
    ;;
  check)
    [[ -f "$file" ]] || { echo "machine_network_guard: nothing recorded in $file" >&2; exit 1; }
    added=$(LC_ALL=C comm -13 "$file" <(snapshot | LC_ALL=C sort))
    if [[ -n "$added" ]]; then
      echo "the e2e tests left this in the machine's network namespace:" >&2
      echo "$added" | head -50 >&2
      exit 1
    fi
    echo "machine network namespace: nothing added by the tests"
    ;;
  *)
    echo "machine_network_guard: unknown mode $mode" >&2
    exit 2
    ;;
esac
