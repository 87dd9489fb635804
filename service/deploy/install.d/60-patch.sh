#!/bin/bash
# Install part (run as root by the release's installer, after the units are placed): the patch
# script as a root-owned copy the patch unit runs, `dnf needs-restarting` (dnf-plugins-core),
# and onebox-patch.timer's window from APP_MAINTENANCE_WINDOW. Idempotent; a failed dnf fails
# the part, and the installer's unit retries it. ONEBOX_ROOT prefixes every path (tests).
set -euo pipefail
root="${ONEBOX_ROOT:-}"
deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dnf --assumeyes --quiet install dnf-plugins-core
install -D -m 0755 "$deploy/bin/onebox-patch.sh" "$root/usr/local/libexec/onebox/onebox-patch"
"$root/usr/local/libexec/onebox/onebox-patch" timer
