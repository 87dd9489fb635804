#!/bin/bash
# onebox-patch: the OS's security updates, and a reboot only when one is needed and only inside
# the maintenance window. Run as root by onebox-patch.service (weekly at the window's start, and
# once at boot), from the root-owned copy install.d/60-patch.sh places:
#   onebox-patch run     upgrade (retried), then reboot if `dnf needs-restarting -r` says so
#                        and now is in the window; at most one reboot per window
#   onebox-patch timer   write onebox-patch.timer's drop-in from APP_MAINTENANCE_WINDOW
#
# Why --releasever=latest: AL2023 locks dnf to the release of the AMI it booted, and a release
# is immutable: new advisories are only in the metadata of newer releases (AL2023 user guide,
# "Deterministic upgrades through versioned repositories" and "Listing applicable advisories").
# A plain `dnf upgrade --security` on a locked box finds nothing, ever. --security keeps the
# move to security advisories only; the whole OS moves with a new AMI (RUNBOOK: Replace the box).
#
# APP_MAINTENANCE_WINDOW (read from /etc/onebox/onebox.env) is a systemd calendar spec in UTC; the
# window is the hour after each of its times. ONEBOX_ROOT prefixes every path (tests).
set -euo pipefail

DEFAULT_WINDOW="Sun *-*-* 03:00:00"
WINDOW_SECONDS=3600
ATTEMPTS=3
RETRY_SECONDS=(30 120) # before the 2nd and the 3rd attempt
TIMER_DROP_IN="${ONEBOX_ROOT:-}/etc/systemd/system/onebox-patch.timer.d/window.conf"
STATE="${ONEBOX_ROOT:-}/var/lib/onebox-patch"
# Read as data, never sourced: the deploy agent's user may write the env file, and this runs
# as root. The value is only ever handed to `systemd-analyze calendar`, which refuses junk.
env_window() {
  local file="${ONEBOX_ROOT:-}/etc/onebox/onebox.env"
  [ -r "$file" ] || return 0
  sed -n 's/^APP_MAINTENANCE_WINDOW=//p' "$file" | tail -n 1 | sed 's/^"\(.*\)"$/\1/'
}
window="${APP_MAINTENANCE_WINDOW:-$(env_window)}"
window="${window:-$DEFAULT_WINDOW}"

# One JSON object per line, as every onebox unit logs: say EVENT [key=value...]
say() {
  python3 -c '
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
fields = {"timestamp": now.replace("+00:00", "Z"), "event": sys.argv[1]}
fields.update(arg.split("=", 1) for arg in sys.argv[2:])
print(json.dumps(fields), flush=True)' "$@"
}

# The window's spec with its time zone, or the default when systemd cannot parse it.
window_spec() {
  if systemd-analyze calendar "$window UTC" >/dev/null 2>&1; then
    printf '%s UTC\n' "$window"
  else
    say window_refused "window=$window" "using=$DEFAULT_WINDOW" >&2
    printf '%s UTC\n' "$DEFAULT_WINDOW"
  fi
}

# True when a start of the window lies in the last WINDOW_SECONDS.
in_window() {
  local now next start
  now=$(date +%s)
  next=$(systemd-analyze calendar --iterations=1 --base-time="@$((now - WINDOW_SECONDS))" \
    "$(window_spec)" | sed -n 's/^ *Next elapse: //p') || return 1
  [ -n "$next" ] || return 1
  start=$(date -d "${next#* }" +%s) || return 1
  [ "$start" -le "$now" ]
}

upgrade() {
  local attempt status
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    status=0
    dnf --assumeyes --quiet --refresh --releasever=latest upgrade --security || status=$?
    if [ "$status" -eq 0 ]; then
      say patch_applied "attempt=$attempt"
      return 0
    fi
    say patch_attempt_failed "attempt=$attempt" "exitCode=$status"
    if [ "$attempt" -lt "$ATTEMPTS" ]; then
      sleep "${RETRY_SECONDS[$((attempt - 1))]}"
    fi
  done
  say patch_failed "attempts=$ATTEMPTS"
  return 1
}

# dnf exits 1 for "reboot needed" and for its own errors alike: the message decides.
reboot_needed() {
  local output
  output=$(dnf needs-restarting -r 2>&1) && return 1
  case "$output" in *"Reboot is required"*) return 0 ;; esac
  say needs_restarting_failed "output=${output:0:200}"
  return 1
}

write_timer() {
  local spec content
  spec=$(window_spec)
  content=$(printf '[Timer]\nOnCalendar=\nOnCalendar=%s' "$spec")
  if [ "$(cat "$TIMER_DROP_IN" 2>/dev/null)" != "$content" ]; then
    mkdir -p "$(dirname "$TIMER_DROP_IN")"
    printf '%s\n' "$content" >"$TIMER_DROP_IN"
    systemctl daemon-reload
    say timer_window "window=$spec"
  fi
}

run() {
  upgrade || exit 1 # the unit fails: `systemctl --failed` and the journal say so
  write_timer       # a window changed since the install takes effect from here on
  if ! reboot_needed; then
    say reboot_not_needed
    return 0
  fi
  if ! in_window; then
    say reboot_deferred "window=$window"
    return 0
  fi
  mkdir -p "$STATE"
  local last now
  last=$(cat "$STATE/rebooted-at" 2>/dev/null || echo 0)
  now=$(date +%s)
  if [ $((now - last)) -lt "$WINDOW_SECONDS" ]; then
    say reboot_skipped "reason=already rebooted in this window"
    return 0
  fi
  echo "$now" >"$STATE/rebooted-at"
  say reboot_started "window=$window"
  systemctl reboot
}

case "${1:-}" in
run) run ;;
timer) write_timer ;;
*)
  echo "usage: onebox-patch run|timer" >&2
  exit 2
  ;;
esac
