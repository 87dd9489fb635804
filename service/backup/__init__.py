"""SQLite backups to S3 and restores from it: `python -m service.backup <command>`.

Commands: backup, restore, list, verify.

Modules, one concern each: `keys` (pure: key names, times, retention), `snapshot` (SQLite
snapshot, gzip, checksums), `aws` (bounded-time clients), `s3` (the bucket), `restore`
(verified, atomic install), `state` (the local success record), `lock` (one at a time),
`commands` (the four commands), `__main__` (flags, exit codes).
"""
