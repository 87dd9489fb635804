"""The secret files' text and their atomic, change-only writes (pure but for the file system)."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

# What pulumi-random gives the origin secret (special=False): safe inside nginx's quotes.
ORIGIN_SECRET = re.compile(r"[A-Za-z0-9]{32,64}")
# A token travels in an HTTP header: visible ASCII, no spaces.
API_TOKEN = re.compile(r"[\x21-\x7e]+")
# A Sentry DSN: an http(s) URL of visible ASCII (its key is the user part).
SENTRY_DSN = re.compile(r"https?://[\x21-\x7e]+")
# A password file field: visible ASCII (RDS-generated passwords are; no newline can split a line).
PGPASS_FIELD = re.compile(r"[\x21-\x7e]+")


class SecretError(ValueError):
    """A secret's value cannot be written where it goes; the message names the parameter, never
    the value."""


def token_text(parameter: str, value: str) -> str:
    token = value.strip()
    if not API_TOKEN.fullmatch(token):
        raise SecretError(f"{parameter}: the token is empty or holds spaces or non-ASCII")
    return token + "\n"


def dsn_text(parameter: str, value: str) -> str:
    dsn = value.strip()
    if not SENTRY_DSN.fullmatch(dsn):
        raise SecretError(f"{parameter}: the DSN is not an http(s) URL without spaces")
    return dsn + "\n"


def pgpass_text(secret_id: str, value: str, port: int, database: str) -> str:
    """The libpq password file's line for the RDS-managed secret's JSON {username, password}:
    any host (the box reaches one database), this port and database. `:` and `\\` are escaped
    as libpq's format asks."""
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        raise SecretError(f"{secret_id}: the secret is not JSON") from None
    fields = [
        data.get(name) if isinstance(data, dict) else None for name in ("username", "password")
    ]
    if not all(isinstance(item, str) and item and PGPASS_FIELD.fullmatch(item) for item in fields):
        raise SecretError(f"{secret_id}: the secret has no username and password of visible ASCII")
    user, password = (re.sub(r"([:\\])", r"\\\1", str(item)) for item in fields)
    return f"*:{port}:{database}:{user}:{password}\n"


def origin_map(parameter: str, secret: str | None) -> str:
    """The nginx map: requests carrying the secret are from the edge; with no secret (no edge),
    every request is."""
    if secret is None:
        return "map $http_x_onebox_origin $onebox_from_edge {\n    default 1;\n}\n"
    if not ORIGIN_SECRET.fullmatch(secret):
        raise SecretError(f"{parameter}: the secret is not 32-64 letters and digits")
    return (
        f'map $http_x_onebox_origin $onebox_from_edge {{\n    default 0;\n    "{secret}" 1;\n}}\n'
    )


@dataclass(frozen=True)
class Written:
    """What a write did: whether the text changed, and the group it went to (None: the group
    does not exist here, so the file is root's alone)."""

    changed: bool
    group: str | None


def group_id(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def user_id(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _own(fd: int, gid: int | None, mode: int, uid: int = 0) -> None:
    os.fchmod(fd, mode if gid is not None else mode & 0o700)
    if gid is not None and os.geteuid() == 0:  # only root gives a file away; tests run as users
        os.fchown(fd, uid, gid)


class SecretsDir:
    """The directory the files go to, held open: every operation is relative to it and follows
    no symlink, so a directory or link swapped in by another user is refused, not written
    through (the directory's parent belongs to the deploy agent)."""

    def __init__(self, path: Path, group: str, mode: int = 0o750) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            if os.fstat(self.fd).st_uid != os.geteuid():
                raise OSError(f"{path} is not owned by this process's user; refused")
            _own(self.fd, group_id(group), mode)
        except BaseException:
            os.close(self.fd)
            raise

    def __enter__(self) -> SecretsDir:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def read(self, name: str) -> str | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, encoding="utf-8") as file:
            return file.read()

    def write_if_changed(
        self, name: str, text: str, group: str, mode: int, owner: str | None = None
    ) -> Written:
        """Replace `name` with `text` atomically (a reader sees the old file or the new, never
        half of one) unless it holds `text` already. `owner`: a user to own it (else root)."""
        gid = group_id(group)
        uid = user_id(owner) if owner else 0
        if uid is None:  # no such user here: the file stays root's alone
            gid = None
        written = Written(changed=self.read(name) != text, group=group if gid is not None else None)
        if not written.changed:
            return written
        temporary = f".{name}.{secrets.token_hex(8)}"
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=self.fd
        )
        try:
            _own(fd, gid, mode, uid or 0)
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temporary, dir_fd=self.fd)
            raise
        os.close(fd)
        os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        os.fsync(self.fd)  # the rename itself survives a crash
        return written

    def mark(self, name: str) -> None:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=self.fd))

    def marked(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def unmark(self, name: str) -> None:
        os.unlink(name, dir_fd=self.fd)

    def remove(self, name: str) -> bool:
        """Delete `name` if it exists; True when it did."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True
