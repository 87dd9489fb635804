#!/bin/bash
# First-boot install of the service release the stack points at (run once by cloud-init).
# Reads the SSM parameter APP_RELEASE_PARAMETER ({"version","key","sha256"}), downloads the
# archive from APP_BACKUP_BUCKET, checks its SHA-256, unpacks it into
# /opt/onebox/releases/<version>, builds /opt/onebox/venv from the release's pinned wheels and
# points /opt/onebox/current at it. Later releases are deployed by the on-box agent.
# ONEBOX_ROOT (default: empty, i.e. /) prefixes every path, so tests can run it in a temp dir.
set -euo pipefail
root="${ONEBOX_ROOT:-}"
env_file="$root/etc/onebox/onebox.env"
# shellcheck source=/dev/null
. "$env_file"
export AWS_REGION
pointer=$(aws ssm get-parameter --name "$APP_RELEASE_PARAMETER" \
  --query Parameter.Value --output text)
field() { printf '%s' "$pointer" | python3.11 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
version=$(field version)
key=$(field key)
sha=$(field sha256)
case "$version" in *[!0-9a-f]* | "") echo "install-release: bad version '$version'" >&2; exit 1 ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
aws s3 cp --only-show-errors "s3://$APP_BACKUP_BUCKET/$key" "$tmp/release.tar.gz"
if ! echo "$sha  $tmp/release.tar.gz" | sha256sum --check --quiet --status; then
  echo "install-release: s3://$APP_BACKUP_BUCKET/$key does not match sha256 $sha" >&2
  exit 1
fi
release="$root/opt/onebox/releases/$version"
mkdir -p "$release"
# The archive holds relative service/... paths only; --no-same-owner keeps files root's.
tar -xzf "$tmp/release.tar.gz" -C "$release" --no-same-owner
printf '%s\n' "$version" > "$release/VERSION"
python3.11 -m venv "$root/opt/onebox/venv"
"$root/opt/onebox/venv/bin/pip" install --quiet --disable-pip-version-check \
  --only-binary=:all: -r "$release/service/requirements.txt"
# Symlink under a temporary name, then rename over `current`: the switch is atomic.
ln -sfn "$release" "$root/opt/onebox/current.tmp"
mv -T "$root/opt/onebox/current.tmp" "$root/opt/onebox/current"
sed -i '/^APP_VERSION=/d' "$env_file"
printf 'APP_VERSION=%s\n' "$version" >> "$env_file"
echo "install-release: installed $version"
