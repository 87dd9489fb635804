#!/bin/bash
# Installer part: the deploy agent's user, and what it owns (run as root by the release's
# installer, after the release is unpacked and before the units start; safe to run again).
# onebox-agent.service runs as onebox-agent, never root. The agent owns:
#   /opt/onebox/releases (all of it), the `current` symlink, agent-state.json and agent.lock;
#   /etc/onebox and onebox.env in it (it rewrites the box's settings there).
# /opt/onebox itself stays root's, group onebox-agent, mode 1775: the sticky bit lets the agent
# add and replace its own entries (`current`, its state) and never rename or delete root's
# (the venv). Not world-writable, so the kernel's protected_symlinks does not stop the web
# service from following `current`.
# ONEBOX_ROOT (default: empty, i.e. /) prefixes every path, so tests can run it in a temp dir.
set -euo pipefail
root="${ONEBOX_ROOT:-}"
user=onebox-agent
box="$root/opt/onebox"
etc="$root/etc/onebox"

# systemd-sysusers adds the user and its group only when they are missing.
systemd-sysusers --root="${root:-/}" --inline \
  "u $user - \"onebox deploy agent\" - /usr/sbin/nologin"
# Numeric ids from the root's own passwd file: under ONEBOX_ROOT the name is not the host's.
ids=$(awk -F: -v name="$user" '$1 == name { print $3 ":" $4 }' "$root/etc/passwd")
if [ -z "$ids" ]; then
  echo "20-agent-user: $user is not in $root/etc/passwd" >&2
  exit 1
fi
gid=${ids#*:}

mkdir -p "$box/releases" "$etc"
chown "0:$gid" "$box"
chmod 1775 "$box"
chown -R "$ids" "$box/releases"
for owned in "$box/current" "$box/agent-state.json" "$box/agent.lock"; do
  if [ -e "$owned" ] || [ -L "$owned" ]; then
    chown -h "$ids" "$owned"
  fi
done
chown "$ids" "$etc"
chmod 0755 "$etc"
if [ -e "$etc/onebox.env" ]; then
  # systemd reads it for each unit as root; only the agent (and root) need to open it.
  chown "$ids" "$etc/onebox.env"
  chmod 0640 "$etc/onebox.env"
fi
echo "20-agent-user: $user ($ids) owns the releases, current and $etc"
