#!/bin/bash
# Install part (run as root by the release's installer, after the units are placed): with the
# stack's `prometheus: true` (APP_PROMETHEUS), node_exporter for a self-hosted Prometheus.
# AL2023's core repositories have no node_exporter; SPAL (Supplementary Packages for Amazon
# Linux, from AL2023 2023.9.20251117) has it as golang-github-prometheus-node-exporter, whose
# own node_exporter.service stays disabled: onebox-node-exporter.service runs its binary,
# hardened, on 127.0.0.1:9100. This part makes the textfile directory the backup units write
# (onebox's, readable by all) and adds the unit to multi-user.target (it has no [Install], so
# the installer never enables it). With APP_PROMETHEUS not true it does nothing. dnf is retried;
# a dnf that still fails fails the part, naming the package, and the installer's unit retries.
# Idempotent. ONEBOX_ROOT prefixes every written path (tests).
set -euo pipefail
root="${ONEBOX_ROOT:-}"
UNIT=onebox-node-exporter.service
REPO_PACKAGE=spal-release
PACKAGE=golang-github-prometheus-node-exporter
BINARY=/usr/bin/node_exporter
TEXTFILE_DIR=/var/lib/node_exporter/textfile_collector  # contract.BACKUP_TEXTFILE_DIR

if [ "${APP_PROMETHEUS:-false}" != true ]; then
  echo "40-node-exporter: APP_PROMETHEUS is not true; no node_exporter"
  exit 0
fi

install_package() { # install_package NAME: three tries, 10 s then 20 s apart, like install.sh
  local attempt
  for attempt in 1 2 3; do
    dnf --assumeyes --quiet install "$1" && return 0
    [ "$attempt" -eq 3 ] || sleep $((attempt * 10))
  done
  echo "40-node-exporter: dnf install $1 failed 3 times" >&2
  return 1
}

install_package "$REPO_PACKAGE"
install_package "$PACKAGE"
if [ ! -x "$root$BINARY" ]; then
  echo "40-node-exporter: $PACKAGE did not install $BINARY" >&2
  exit 1
fi
mkdir -p "$root$TEXTFILE_DIR"
chown onebox:onebox "$root$TEXTFILE_DIR"
chmod 0755 "$root$TEXTFILE_DIR"
systemctl daemon-reload
systemctl add-wants multi-user.target "$UNIT"
systemctl restart "$UNIT"
echo "40-node-exporter: node_exporter on 127.0.0.1:9100 reading $TEXTFILE_DIR"
