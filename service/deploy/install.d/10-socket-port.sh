#!/bin/bash
# Moves onebox.socket off port 80 when the stack's httpPort (ONEBOX_HTTP_PORT) says so; an
# empty ListenStream= clears the unit's list before the new port is added.
set -euo pipefail
drop_in="${ONEBOX_ROOT:-}/etc/systemd/system/onebox.socket.d/port.conf"
port="${ONEBOX_HTTP_PORT:-80}"
case "$port" in *[!0-9]* | "") echo "10-socket-port: bad port '$port'" >&2; exit 1 ;; esac
if [ "$port" = 80 ]; then
  rm -f "$drop_in"
else
  mkdir -p "$(dirname "$drop_in")"
  printf '[Socket]\nListenStream=\nListenStream=%s\n' "$port" > "$drop_in"
fi
