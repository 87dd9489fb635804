#!/bin/bash
# First boot: fetch the release the stack points at, check its sha256, run its installer.
# Run by onebox-bootstrap.service until it succeeds; a box already installed exits at once.
# ONEBOX_ROOT (default empty, i.e. /) prefixes every path, so tests run it in a temp dir.
set -euo pipefail
root="${ONEBOX_ROOT:-}"
lib="$root/var/lib/onebox"
mkdir -p "$lib"
if python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["status"] != "installed")' \
  "$lib/install-state.json" 2>/dev/null; then
  echo "onebox-bootstrap: installed already"; exit 0
fi
# Backoff (systemd 252 has no RestartSteps=): 0, 10, 20, 40... at most 300 s before a retry.
n=$(cat "$lib/bootstrap-attempts" 2>/dev/null || true)
# Digits only: the service's user owns this directory, and bash arithmetic would run $(...).
case "$n" in "" | *[!0-9]*) n=0 ;; esac
n=$((n + 1))
echo "$n" > "$lib/bootstrap-attempts"
[ "$n" -eq 1 ] || sleep $(( n > 6 ? 300 : 5 << (n - 1) ))
pointer=$(aws ssm get-parameter --name "$ONEBOX_RELEASE_PARAMETER" \
  --query Parameter.Value --output text)
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$pointer" "$1"; }
version=$(field version)
key=$(field key)
sha=$(field sha256)
case "$version" in *[!0-9a-f]* | "") echo "onebox-bootstrap: bad version '$version'" >&2; exit 1 ;; esac
release="$root/opt/onebox/releases/$version"
if [ ! -x "$release/service/deploy/install.sh" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  aws s3 cp --only-show-errors "s3://$ONEBOX_BUCKET/$key" "$tmp/release.tar.gz"
  if ! echo "$sha  $tmp/release.tar.gz" | sha256sum --check --quiet --status; then
    echo "onebox-bootstrap: s3://$ONEBOX_BUCKET/$key does not match sha256 $sha" >&2; exit 1
  fi
  mkdir "$tmp/release"
  tar -xzf "$tmp/release.tar.gz" -C "$tmp/release" --no-same-owner
  mkdir -p "$(dirname "$release")"
  rm -rf "$release"
  mv -T "$tmp/release" "$release"
fi
"$release/service/deploy/install.sh"
