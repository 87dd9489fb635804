"""The on-box deploy agent: `python -m service.agent`, run every minute by onebox-agent.timer.

It reads the release the stack published (an SSM parameter naming a content-hashed archive in
S3), installs it beside the running one, switches the `current` symlink, reloads gunicorn
gracefully (HUP: new workers, same listening socket) and checks that the new release is ready
and reports its version; then it watches the new release's 5xx rate and p95 against the
previous release's for a while. If it is not ready, or clearly regresses, it switches back and
reloads again.

release.py   what a published release is (pure): its description and safe extraction
layout.py    the releases root on disk: current version, atomic switch, pruning, failed versions
source.py    the AWS edge: the SSM parameter and the S3 download
probe.py     the HTTP checks after a switch (ready, and the expected version), /metrics
regression.py  what a regression is (pure): windows of /metrics readings, limits, the verdict
watch.py     the previous release's window before the switch, the watch after it
deploy.py    the steps in order, each logged as a JSON event
settings.py  the agent's typed view of service.config's APP_* settings
"""
