#!/bin/bash
# Install part (run as root by the release's installer, after the units are placed): nginx on
# the HTTP port in front of gunicorn's socket (onebox.socket). It installs AL2023's nginx, a
# root-owned copy of the renderer and template (nginx.service renders from them on every start
# and reload: service/deploy/nginx/nginx.service.conf), renders once now so a bad setting stops
# the install here, naming it, then enables and (re)starts nginx, whose start runs `nginx -t`.
# onebox-nginx-reload.path reloads nginx (re-rendering) whenever the settings change.
# Until the secrets unit writes the origin map, a map that trusts no request is in its place:
# everything but /api/health answers 403 (it holds no secret). Idempotent; a failed dnf fails
# the part, and the installer's unit retries it. ONEBOX_ROOT prefixes every path (tests).
set -euo pipefail
root="${ONEBOX_ROOT:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../nginx" && pwd)"
libexec="$root/usr/local/libexec/onebox/nginx"
drop_in="$root/etc/systemd/system/nginx.service.d/onebox.conf"
origin_map="$root/etc/onebox/secrets/origin.conf"

dnf --assumeyes --quiet install nginx
install -D -m 0644 "$here/render.py" "$libexec/render.py"
install -D -m 0644 "$here/onebox.conf.template" "$libexec/onebox.conf.template"
install -D -m 0644 "$here/nginx.service.conf" "$drop_in"
if [ ! -e "$origin_map" ]; then
  mkdir -p "$(dirname "$origin_map")"
  python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from render import origin_map
print(origin_map(), end="")' "$libexec" > "$origin_map.tmp"
  chmod 0600 "$origin_map.tmp"
  mv -f "$origin_map.tmp" "$origin_map"
fi
mkdir -p "$root/etc/nginx"
python3 "$libexec/render.py" --template "$libexec/onebox.conf.template" \
  --out "$root/etc/nginx/nginx.conf"
systemctl daemon-reload
systemctl enable nginx.service
systemctl reload-or-restart nginx.service
echo "30-nginx: nginx on port ${ONEBOX_HTTP_PORT:-80} in front of onebox.socket"
