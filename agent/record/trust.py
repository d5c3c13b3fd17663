"""What mlpilot may load from a run folder, and on whose word.

A run folder may come from someone else (zipped, copied to a server, attached to a ticket), and two of its
files are pickles, which run code when loaded: ``model.joblib`` (kept a pickle so that it loads with joblib
and scikit-learn alone) and ``results.joblib`` (the cross-validation results a resume reloads). A hash in
``manifest.json`` proves nothing, since whoever made the folder wrote the manifest too. So each pickle is
signed when written: an HMAC-SHA256 of its name and sha256 under a key kept in the user's mlpilot data
folder (``signing.key``, created on first use, readable by the user only; ``MLPILOT_SIGNING_KEY`` names
another key file, e.g. one a team shares). Folders this user made on this
machine verify and load as before; anything else is refused unless the user vouches for the folder
(``--trust``), which is warned about and logged. The checkpoints are not pickles: see
`agent.record.checkpoints`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path

from tools.errors import ConfigError
from tools.sniff import file_sha256

KEY_FILE = "signing.key"
TRUST_LOG = "trusted_folders.jsonl"


class UntrustedFile(ConfigError):
    """A pickle in a run folder that this user's key did not sign, and the user did not vouch for."""


def key_path(home: Path) -> Path:
    """Where the signing key is: ``MLPILOT_SIGNING_KEY`` (a file a team may share, so that its members'
    folders load for each other), else ``signing.key`` in the user's data folder."""
    shared = os.environ.get("MLPILOT_SIGNING_KEY")
    return Path(shared) if shared else Path(home) / KEY_FILE


def signing_key(home: Path) -> bytes:
    """The user's signing key, created (readable by the user only) on first use."""
    path = key_path(home)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another mlpilot process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ConfigError(f"The signing key {path} is damaged (too short). Delete it: mlpilot makes a new one, "
                          "and runs signed with the old key will need --trust.")
    return key.encode("ascii")


def signature(home: Path, path: Path, sha256: str | None = None) -> str:
    """The signature of the file at ``path`` (given its ``sha256``, when known)."""
    digest = sha256 or file_sha256(path)
    message = f"mlpilot-v1\n{Path(path).name}\n{digest}".encode()
    return hmac.new(signing_key(home), message, hashlib.sha256).hexdigest()


def signed(home: Path, path: Path) -> dict[str, str]:
    """The manifest's record of a pickle just written: its sha256 and this user's signature of it."""
    digest = file_sha256(path)
    return {"sha256": digest, "signature": signature(home, path, digest)}


def check_pickle(path: Path, recorded: str | None, *, home: Path, trust: bool, what: str) -> str | None:
    """Check that the pickle at ``path`` may be loaded; returns a warning to show and log when it is loaded
    only because the user vouched for its folder (``trust``), else None.

    Raises:
        UntrustedFile: the file is not signed with this user's key and ``trust`` is not given.
    """
    if recorded and hmac.compare_digest(recorded, signature(home, path)):
        return None
    folder = Path(path).parent
    if not trust:
        why = "is not signed" if not recorded else "does not carry this user's signature"
        raise UntrustedFile(
            f"Refusing to load {path} ({what}): it {why}, so it was not written by mlpilot for you on this "
            "machine, or it was changed since. It is a pickle, and loading a pickle runs whatever code it "
            f"contains. If you trust whoever made '{folder}', run the command again with --trust.")
    warning = (f"loading {path} ({what}) although it is not signed by you, because you vouched for its folder "
               "with --trust: a pickle runs whatever code it contains")
    _log_trust(home, path, what)
    return warning


def _log_trust(home: Path, path: Path, what: str) -> None:
    """One line per vouched-for file in the user's data folder, so it can be audited later."""
    entry = {"ts": datetime.now(timezone.utc).isoformat(timespec="seconds"), "file": str(Path(path).resolve()),
             "what": what, "sha256": file_sha256(path)}
    Path(home).mkdir(parents=True, exist_ok=True)
    with open(Path(home) / TRUST_LOG, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
