#!/bin/bash
# Install part (run as root by the release's installer, before the units start): ship the
# journal of the onebox units to the stack's CloudWatch Logs group (APP_LOG_GROUP), one stream
# per instance, with the CloudWatch agent, the shipper AL2023 packages (amazon-cloudwatch-agent).
# It reads journald itself since 1.300070.0 ("journald" in logs_collected; the agent's release
# notes and JSON schema), so this part makes sure the installed agent is at least that.
# Idempotent; a failed dnf fails the part, and the installer's unit retries it.
# ONEBOX_ROOT prefixes every written path (tests).
set -euo pipefail
MIN_VERSION=1.300070.0
root="${ONEBOX_ROOT:-}"
logs="$(cd "$(dirname "${BASH_SOURCE[0]}")/../logs" && pwd)"
agent_etc="$root/opt/aws/amazon-cloudwatch-agent/etc"
config="$agent_etc/onebox.json"
drop_in="$root/etc/systemd/system/amazon-cloudwatch-agent.service.d/stop-last.conf"
ctl="$root/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"

if [ -z "${APP_LOG_GROUP:-}" ]; then
  echo "50-logs: APP_LOG_GROUP is empty; the journal stays on the box"
  exit 0
fi

installed() { rpm -q --queryformat '%{VERSION}' amazon-cloudwatch-agent 2>/dev/null || true; }
recent_enough() {
  [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$MIN_VERSION" "$1" | sort -V | head -n 1)" = "$MIN_VERSION" ]
}

dnf --assumeyes --quiet install amazon-cloudwatch-agent
if ! recent_enough "$(installed)"; then
  # The AMI's locked release may predate journald support; take the agent from the newest.
  dnf --assumeyes --quiet --releasever=latest upgrade amazon-cloudwatch-agent
fi
version=$(installed)
if ! recent_enough "$version"; then
  echo "50-logs: amazon-cloudwatch-agent ${version:-missing} cannot read journald (needs $MIN_VERSION)" >&2
  exit 1
fi

# The release's config with this stack's group (generated from data, never by string pasting).
mkdir -p "$agent_etc"
python3 - "$logs/amazon-cloudwatch-agent.json" "$APP_LOG_GROUP" >"$config.tmp" <<'PY'
import json, sys
template, group = sys.argv[1:]
with open(template) as handle:
    config = json.load(handle)
for entry in config["logs"]["logs_collected"]["journald"]["collect_list"]:
    entry["log_group_name"] = group
print(json.dumps(config, indent=2))
PY
mv "$config.tmp" "$config"
install -D -m 0644 "$logs/stop-last.conf" "$drop_in"
systemctl daemon-reload
# fetch-config validates and translates the JSON; -s enables and (re)starts the agent.
"$ctl" -a fetch-config -m ec2 -c "file:${config#"$root"}" -s
echo "50-logs: shipping the journal of the onebox units to $APP_LOG_GROUP (agent $version)"
