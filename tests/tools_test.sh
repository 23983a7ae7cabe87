#!/usr/bin/env bash
# kubectl and helm as hack/setup installs them: the pinned binaries
# (hack/install-tools --check), and they run and report the pinned versions.
#   tests/tools_test.sh TOOLS_DIR
set -euo pipefail
dir=$1
root=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "tools_test: $*" >&2; exit 1; }

"$root/hack/install-tools" --check "$dir" || fail "$dir does not hold the pinned kubectl and helm (run hack/setup)"

kubectl_version=$("$dir/kubectl" version --client -o json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')
[[ $kubectl_version == v1.31.* ]] || fail "$dir/kubectl version --client: $kubectl_version, not v1.31.x"

# helm keeps nothing of this run: its homes are a temporary directory.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
helm_version=$(HELM_CACHE_HOME=$tmp/cache HELM_CONFIG_HOME=$tmp/config HELM_DATA_HOME=$tmp/data \
  "$dir/helm" version --template '{{.Version}}')
[[ $helm_version == v3.17.* ]] || fail "$dir/helm version: $helm_version, not v3.17.x"

echo "tools_test: kubectl $kubectl_version, helm $helm_version in $dir"
