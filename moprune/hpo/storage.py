"""Where a study lives: the storage URL checked, opened (a journal cut back to whole lines, SQL
storages with heartbeats), and a study of other directions refused."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.storages.journal import JournalFileBackend

from moprune.errors import ConfigError
from moprune.io import write_failed
from moprune.layout import RunLayout

if TYPE_CHECKING:
    from moprune.hpo.study import StudySettings

__all__ = ["check_storage", "check_study_directions"]

_HEARTBEAT_S = 10
_MAX_RETRY = 3  # RDB storage: how many times Optuna's heartbeat retries a stale trial


def check_storage(url: str) -> None:
    """The syntax of a storage: a ``*.journal`` file whose folder exists, or a sqlite://
    (whose file's folder exists), postgresql:// or mysql:// URL (one line naming the value
    otherwise). Whether a server answers is :func:`check_study_directions`' part."""
    from moprune.validation import check_in_dir, check_out_file

    if url.endswith(".journal"):
        check_in_dir(Path(url).expanduser().parent, flag=f"--storage {url!r}: its folder")
        check_out_file(url, flag="--storage")
        return
    if not url.startswith(("sqlite://", "postgresql://", "postgresql+", "mysql://",
                           "mysql+")):
        raise ConfigError(f"--storage must be a sqlite://, postgresql:// or mysql:// URL "
                          f"or a *.journal file, got {url!r}")
    if url.startswith("sqlite:///"):
        file = url[len("sqlite:///"):].split("?", 1)[0]
        if file and file != ":memory:":
            check_in_dir(Path(file).expanduser().parent or Path("."),
                         flag=f"--storage {url!r}: its folder")


def check_study_directions(settings: StudySettings, directions: Sequence[str]) -> None:
    """Open ``settings.storage`` (a given one, not the default journal: a server must
    answer) and refuse a study of the same name there that optimises other
    ``directions``. Creates no study, and no file that does not exist yet.

    Raises:
        ConfigError: naming the storage or the study.
    """
    url = settings.storage
    if url is None:
        return
    local = url[len("sqlite:///"):].split("?", 1)[0] if url.startswith("sqlite:///") else (
        url if url.endswith(".journal") else None)
    if local is not None and local != ":memory:" and not Path(local).expanduser().exists():
        return  # a file not made yet holds no study (and opening it would make it)
    storage = _storage(url, Path("."), settings.grace)
    try:
        study_id = storage.get_study_id_from_name(settings.study)
    except KeyError:
        return
    have = [d.name.lower() for d in storage.get_study_directions(study_id)]
    if have != [d.lower() for d in directions]:
        raise ConfigError(f"study {settings.study!r} in this storage optimises {have}, not "
                          f"{list(directions)}")


class _WholeLinesJournal(JournalFileBackend):
    """Optuna's journal file, whose appends are whole lines or nothing: a write that fails
    (a full disk) is cut off again under the journal's lock, so that no half line stays
    for the next append to be glued to (which would make the whole journal unreadable),
    and is raised as one :class:`~moprune.io.WriteError` naming the file."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        self._lock.acquire()
        try:
            size = os.path.getsize(self._file_path)
            try:
                with open(self._file_path, "ab") as f:
                    f.write(text.encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                os.truncate(self._file_path, size)
                raise write_failed(self._file_path, e) from e
        finally:
            self._lock.release()


def _storage(url: str | None, run_dir: Path, grace: int) -> optuna.storages.BaseStorage:
    if url is None or url.endswith(".journal"):
        if url is None:
            run_dir.mkdir(parents=True, exist_ok=True)
        path = str(RunLayout(run_dir).study_journal) if url is None else url
        try:
            return optuna.storages.JournalStorage(_WholeLinesJournal(path))
        except OSError as e:  # creating the file, or the study's first record
            raise write_failed(path, e) from e
    check_storage(url)
    try:
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=_HEARTBEAT_S, grace_period=grace,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=_MAX_RETRY))
    except Exception as e:  # sqlalchemy / driver errors: one line, not a traceback
        raise ConfigError(f"cannot open storage {url!r}: {type(e).__name__}: "
                          f"{str(e).splitlines()[0]}") from None


