#!/bin/bash
# The release's installer: makes a fresh AL2023 box run this release. Run as root by
# onebox-bootstrap.service (the user-data's bootstrap unpacks the release and execs this), and
# again by that unit's Restart=on-failure until it succeeds: every step is idempotent.
#   packages  dnf: python3.11 (AL2023's python3 is 3.9), retried
#   user      the service's system user `onebox`
#   settings  /etc/onebox/onebox.env from the settings parameter (env-file text)
#   venv      /opt/onebox/venv from the release's wheels: no index, every hash checked
#   release   VERSION written, /opt/onebox/current switched to this release
#   units     service/deploy/*.service|socket|timer|path placed in /etc/systemd/system
#   parts     every executable service/deploy/install.d/* in lexical order
#   enable    daemon-reload, then enable --now every unit with an [Install] section
# /var/lib/onebox/install-state.json says which step runs, or where the install stopped.
# Environment (from /etc/onebox/bootstrap.env): AWS_REGION, ONEBOX_STACK, ONEBOX_BUCKET,
# ONEBOX_RELEASE_PARAMETER, ONEBOX_SETTINGS_PARAMETER, ONEBOX_HTTP_PORT. ONEBOX_ROOT (default
# empty, i.e. /) prefixes every path, so tests run it in a temporary directory.
set -euo pipefail
shopt -s nullglob
release=$(cd "$(dirname "$0")/../.." && pwd)
version=$(basename "$release")
root="${ONEBOX_ROOT:-}"
export ONEBOX_ROOT="$root" ONEBOX_RELEASE="$release" ONEBOX_VERSION="$version"
state="$root/var/lib/onebox/install-state.json"
env_file="$root/etc/onebox/onebox.env"
venv="$root/opt/onebox/venv"
units="$root/etc/systemd/system"
step=start

record() { # record STEP STATUS: JSON by json.dumps, replaced atomically
  python3 - "$state" "$version" "$1" "$2" <<'PY'
import json, os, sys, time
path, version, step, status = sys.argv[1:]
try:
    with open(path) as file:
        state = json.load(file)
except (OSError, ValueError):
    state = {}
if state.get("version") != version:
    state = {"version": version, "steps": {}}
state["steps"][step] = status
state.update(step=step, status=status, updatedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
with open(path + ".tmp", "w") as file:
    file.write(json.dumps(state, indent=2, sort_keys=True) + "\n")
os.replace(path + ".tmp", path)
PY
}

begin() { step=$1; record "$step" running; echo "onebox-install: $step"; }
finish() { record "$step" done; }
on_exit() { local rc=$?; [ "$rc" -eq 0 ] || record "$step" failed; exit "$rc"; }

retry() { # retry CMD...: three tries, 10 s then 20 s apart (a mirror or the network blinks)
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0
    [ "$attempt" -eq 3 ] || sleep $((attempt * 10))
  done
  return 1
}

mkdir -p "$(dirname "$state")"
trap on_exit EXIT

begin packages
retry dnf install -y --quiet python3.11 python3.11-pip
finish

begin user
id -u onebox >/dev/null 2>&1 || useradd --system --shell /sbin/nologin --no-create-home onebox
finish

begin settings
mkdir -p "$(dirname "$env_file")"
settings() { # the value's exact text: `--output text` would add a newline
  aws ssm get-parameter --name "$ONEBOX_SETTINGS_PARAMETER" --query Parameter.Value \
    --output json | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin))' \
    > "$env_file.tmp"
}
retry settings
# Only NAME=value lines of the env file's format (service/config.py) get as far as `.` below
# (it runs as root): nothing in them can expand or run. A bad line stops the install here.
python3.11 - "$release" "$env_file.tmp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from service.config import parse_env_file
with open(sys.argv[2]) as file:
    parse_env_file(file.read())
PY
chmod 0644 "$env_file.tmp"
mv -f "$env_file.tmp" "$env_file"
set -a
# shellcheck source=/dev/null
. "$env_file"
set +a
finish

begin venv
[ -x "$venv/bin/python" ] || python3.11 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
  --require-hashes --only-binary=:all: --find-links "$release/wheels" \
  -r "$release/service/requirements.lock"
finish

begin release
printf '%s\n' "$version" > "$release/VERSION"
# Relative, like the deploy agent's switch; renamed over `current`, so the switch is atomic.
ln -sfn "releases/$version" "$root/opt/onebox/current.tmp"
mv -T "$root/opt/onebox/current.tmp" "$root/opt/onebox/current"
finish

begin units
mkdir -p "$units"
for unit in "$release"/service/deploy/*.{service,socket,timer,path}; do
  install -m 0644 "$unit" "$units/"
done
finish

begin parts
for part in "$release"/service/deploy/install.d/*; do
  if [ -f "$part" ] && [ -x "$part" ]; then
    echo "onebox-install: part $(basename "$part")"
    "$part"
  fi
done
finish

begin enable
enable=()
for unit in "$release"/service/deploy/*.{service,socket,timer,path}; do
  name=$(basename "$unit")
  case "$name" in *@*) continue ;; esac
  if grep -q '^\[Install\]' "$unit"; then enable+=("$name"); fi
done
systemctl daemon-reload
# One transaction, so the units' own ordering holds (restore before the service).
systemctl enable --now "${enable[@]}"
finish

step=installed
record installed installed
echo "onebox-install: installed $version"
