"""onebox: the programs that run on the box, and the facts they share.

Programs (each a package; its systemd unit is in deploy/):
    web/       the Flask app under gunicorn: user state, health, metrics, JSON logs
    backup/    `python -m service.backup`: backups to S3, verify, restore, retention
    publish/   `python -m service.publish`: CloudWatch metrics from the box, every minute
    agent/     `python -m service.agent`: zero-downtime deploys and rollback

Shared by them (and, for contract, pointer and config only, by the infrastructure):
    contract.py  paths, unit names, S3 prefixes, metric names, alarm levels
    pointer.py   the release pointer the stack publishes and the agent reads
    config.py    the APP_* environment: every setting, its default, its parser
    store.py     the user-state store interface; db.py is its SQLite implementation
    logs.py      one JSON object per log line
    aws.py       AWS clients with bounded retries and timeouts
    summary.py   quantiles and rates from Prometheus samples (/api/metrics and the publisher)
"""
