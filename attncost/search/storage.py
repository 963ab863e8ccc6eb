"""Where a study lives: a journal file (default) or a database (PostgreSQL for many
machines), and the study's name."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AttncostError

if TYPE_CHECKING:
    from ..spec import SearchSpec

#: Where a study lives when the spec names no storage, and where its summary goes.
DEFAULT_STUDY_DIR = Path("search") / "studies"
DEFAULT_RESULTS_DIR = Path("reports") / "search"


class SearchError(AttncostError):
    """The search cannot run as asked (storage, sampler, workers)."""


def is_database_url(storage: str) -> bool:
    return "://" in storage and not storage.startswith("file://")


def make_storage(storage: str) -> Any:
    """A database URL (``postgresql://…``, ``sqlite:///…``) → RDBStorage with heartbeats;
    anything else is a journal file path (optionally ``journal:`` prefixed), checked and, if
    damaged, repaired first (:func:`check_journal`), its lock checked for staleness
    (:func:`clear_stale_lock`)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if is_database_url(storage):
        return _open_database(storage)
    path = Path(storage.removeprefix("journal:"))
    if not path.name or path.is_dir():
        raise SearchError(f"storage {storage!r} is a folder; give a journal file path or a "
                          f"database URL")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as e:
        raise SearchError(f"cannot write the journal {storage!r}: {e.strerror or e}") from None
    from optuna.storages.journal import JournalFileSymlinkLock
    from optuna.storages.journal._file import get_lock_file

    clear_stale_lock(path)
    # an absolute path: Optuna's symlink lock points at its target relative to the link's
    # folder, so a relative path makes a dangling link, and a wait on it spins forever
    absolute = str(path.resolve())
    with get_lock_file(JournalFileSymlinkLock(absolute)):  # no writer is mid-record
        check_journal(path)
    return JournalStorage(JournalFileBackend(absolute))


def _open_database(url: str, attempts: int = 5) -> Any:
    """RDBStorage with heartbeats. Processes that start together on a new database race to
    create its tables (a unique-key violation for all but one): the losers retry, after a
    random pause, and find the tables made."""
    import random
    import time
    import warnings

    import optuna
    from optuna.storages import RDBStorage

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5.0
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(url, heartbeat_interval=10, grace_period=30)
        except Exception as e:  # a table race; or driver missing, server down, bad URL
            racing = any(w in str(e) for w in ("UniqueViolation", "already exists",
                                               "IntegrityError"))
            if not racing or attempt == attempts - 1:
                raise SearchError(f"cannot open storage {url!r}: "
                                  f"{str(e).splitlines()[0]}") from None
            time.sleep(random.uniform(0.2, 1.0))
    raise AssertionError("unreachable")


#: A journal lock older than this is left by a killed process (Optuna's own grace period).
STALE_LOCK_S = 30


def clear_stale_lock(path: Path, warn: Any = None) -> bool:
    """Remove ``<journal>.lock`` when it is older than :data:`STALE_LOCK_S` (a process was
    killed while writing), saying so on stderr; True if one was removed."""
    import sys
    import time

    lock = Path(str(path) + ".lock")
    try:
        age = time.time() - os.lstat(lock).st_mtime
    except FileNotFoundError:
        return False
    if age < STALE_LOCK_S:
        return False
    (warn or (lambda m: print(m, file=sys.stderr)))(
        f"note: removing a stale lock on the journal {str(path)!r} ({age:.0f} s old: a process "
        f"was killed while writing)")
    try:
        lock.unlink()
    except FileNotFoundError:
        pass
    return True


def check_journal(path: Path, warn: Any = None) -> int:
    """Check every record of a journal file; a damaged one (not JSON, or cut short — what a
    kill during a write leaves) is repaired to its last good record, the original kept beside
    it as ``<journal>.damaged-<time>``. Returns how many records were dropped."""
    import shutil
    import sys
    import time

    data = path.read_bytes()
    good = 0  # bytes of intact records from the start
    records = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n") or not _is_record(line):
            break
        good += len(line)
        records += 1
    if good == len(data):
        return 0
    if records == 0:
        raise SearchError(f"storage {str(path)!r} is not an Optuna journal (its first line "
                          f"is not a journal record); give another file or a database URL")
    dropped = data[good:].count(b"\n") + (0 if data.endswith(b"\n") else 1)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    backup = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    shutil.copy2(path, backup)
    with path.open("r+b") as fh:
        fh.truncate(good)
    (warn or (lambda m: print(m, file=sys.stderr)))(
        f"note: the journal {str(path)!r} was damaged after record {records}: repaired to its "
        f"{records} good record(s), {dropped} dropped; the original is kept as {backup.name}")
    return dropped


def _is_record(line: bytes) -> bool:
    """Whether ``line`` is one whole journal record: a JSON object with an ``op_code``."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "op_code" in record


def storage_for(spec: "SearchSpec") -> str:
    return spec.storage or str(DEFAULT_STUDY_DIR / f"{spec.name}.journal")


def study_name(spec: "SearchSpec") -> str:
    """The spec's name plus a hash of everything that changes a trial's result, so editing
    the spec starts a new study instead of mixing incomparable trials."""
    d = spec.as_dict()
    for key in ("trials", "workers", "storage", "sampler", "seed", "description", "source",
                "name", "plugins"):
        d.pop(key, None)
    digest = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]
    return f"{spec.name}-{digest}"
