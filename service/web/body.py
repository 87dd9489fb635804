"""Request bodies an attacker shapes: streamed without a length, malformed, or nested deep.

A chunked body has no Content-Length, so werkzeug can only cap it with Flask's
MAX_CONTENT_LENGTH (APP_MAX_BODY_BYTES) while it is read, and its `get_data` stops at the cap
without saying so: the view would see a body cut short. A malformed chunk makes the WSGI
server's reader raise its own error (gunicorn's `ParseException`), which is no HTTP error at
all. So before any view runs, a chunked body is read here, up to one byte past the limit:
too long is a 413, malformed is a 400, and otherwise the view gets an ordinary sized body.

JSON nested deeper than Python's recursion limit makes `json.loads` raise RecursionError;
`nesting_exceeds` finds it first, without parsing.
"""

from __future__ import annotations

import io
import re

from flask import Flask, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import RequestEntityTooLarge

from service.web.errors import ApiError

# The API's bodies are flat objects (depth 1); this leaves room and stays far from recursion.
MAX_JSON_DEPTH = 32
# A JSON string (escapes included) or a bracket: brackets inside strings do not nest.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_OPENERS = frozenset(b"[{")
# No view reads these methods' bodies (so none is cut short); the server discards them.
BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def nesting_exceeds(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text `data` opens more than `limit` arrays or objects inside each other."""
    if data.count(b"[") + data.count(b"{") <= limit:  # the common case: no scan at all
        return False
    depth = 0
    for token in _TOKENS.finditer(data):
        char = token.group()[0]
        if char in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif char != ord('"'):
            depth -= 1
    return False


def _is_chunked(environ: dict[str, object]) -> bool:
    # werkzeug, like HTTP, ignores Content-Length when the body is chunked.
    return "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()


def read_streamed_body() -> None:
    """before_request: replace a chunked body by the same bytes with a length, or refuse it."""
    environ = request.environ
    if environ["REQUEST_METHOD"] in BODILESS or not _is_chunked(environ):
        return
    limit: int | None = request.max_content_length
    stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    try:
        while limit is None or size <= limit:
            chunk = stream.read(65536 if limit is None else limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (ParseException, OSError, ValueError) as exc:
        raise ApiError(
            400, "malformed_body", f"the chunked request body is malformed or incomplete: {exc}"
        ) from None
    if limit is not None and size > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
    environ["CONTENT_LENGTH"] = str(size)
    del environ["HTTP_TRANSFER_ENCODING"]  # the body the view reads is a sized one now


def init_app(app: Flask) -> None:
    app.before_request(read_streamed_body)
