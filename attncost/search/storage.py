"""Where a study lives: a journal file (default) or a database (PostgreSQL for many
machines), and the study's name."""

from __future__ import annotations

import hashlib
import json
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
    anything else is a journal file path (optionally ``journal:`` prefixed)."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if is_database_url(storage):
        import warnings

        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5.0
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(storage, heartbeat_interval=10, grace_period=30)
        except Exception as e:  # driver missing, server down, bad URL
            raise SearchError(f"cannot open storage {storage!r}: "
                              f"{str(e).splitlines()[0]}") from None
    path = Path(storage.removeprefix("journal:"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


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
