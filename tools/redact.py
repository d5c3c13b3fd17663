"""Credentials never reach a file: a password written into a URL (``http://user:PASSWORD@host/v1``, as
people do with OpenAI-compatible endpoints behind basic auth) is replaced wherever text is recorded."""

from __future__ import annotations

import re

# scheme://user:password@ -> the password is everything between the first ':' after the user and the '@'.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@]*:)(?P<password>[^\s/@]+)(?=@)")
REDACTED = "[redacted]"


def redact_urls(text: str) -> str:
    """``text`` with the password of every URL replaced by ``[redacted]`` (the user name is kept)."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
