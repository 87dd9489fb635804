"""SQLite backups to S3 and restores from it: `python -m service.backup <command>`.

Commands: backup, restore, list, verify.

Modules, one concern each: `keys` (pure: key names, times, retention), `snapshot` (SQLite
snapshot, gzip, checksums), `s3` (the bucket, with the bounded-time clients of `service.aws`),
`restore` (verified, atomic install), `state` (the local success records: the publisher's JSON
file and node_exporter's textfile), `lock` (one at a time), `commands` (the four commands),
`__main__` (flags, exit codes).
"""
