"""A full disk in the middle of a command: one line naming the file, nothing partial left,
and the same command resumes once space is freed. Faults are injected at the write layer
(every run), and made for real on a small tmpfs where this machine allows it (root)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch

from moprune.cli import main
from moprune.front import Front
from moprune.io import WriteError, atomic_write, write_json

FULL = OSError(errno.ENOSPC, "No space left on device")


def test_atomic_write_on_a_full_disk_keeps_the_old_file_and_names_the_new(tmp_path):
    target = tmp_path / "r.json"
    write_json(target, {"old": 1})

    def fill(f):
        f.write(b'{"new": ')
        raise FULL

    with pytest.raises(WriteError) as e:
        atomic_write(target, fill)
    assert str(e.value) == (f"cannot write {str(target)!r}: No space left on device; free "
                            "some space, then run the same command again to resume")
    assert e.value.errno == errno.ENOSPC
    assert json.loads(target.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


def test_a_model_write_that_torch_reports_as_a_runtime_error_is_a_write_error(tmp_path,
                                                                              monkeypatch):
    class FullAfter64:  # the temporary file, full after its first 64 bytes
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, data):
            self.n += len(data)
            if self.n > 64:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

        def __getattr__(self, name):
            return getattr(self.f, name)

    real = os.fdopen
    monkeypatch.setattr("moprune.io.os.fdopen", lambda fd, mode: FullAfter64(real(fd, mode)))
    with pytest.raises(WriteError, match="No space left on device"):
        atomic_write(tmp_path / "m.pt", lambda f: torch.save({"w": torch.zeros(1000)}, f))
    assert list(tmp_path.iterdir()) == []


def test_a_front_stopped_by_a_full_disk_resumes_to_the_same_front(synthetic_root, tmp_path,
                                                                  monkeypatch, capsys):
    """The 7th fsync of the front (inside its points' files) fails as on a full disk."""
    argv = ["front", "--method", "grid", "--lams", "0,0.5,1", "--budget", "3", "--epochs",
            "1", "--limit-train", "200", "--limit-eval", "50", "--data-root",
            str(synthetic_root)]
    assert main([*argv, "--out", str(tmp_path / "plain")]) == 0
    real, calls = os.fsync, []

    def failing(fd):
        calls.append(fd)
        if len(calls) == 7:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr("moprune.io.os.fsync", failing)
    out = tmp_path / "full"
    capsys.readouterr()
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"moprune: error: cannot write '{out}/")
    assert err[0].endswith("No space left on device; free some space, then run the same "
                           "command again to resume")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for f in out.rglob("*.json"):
        json.loads(f.read_text())  # every result file whole
    monkeypatch.setattr("moprune.io.os.fsync", real)
    assert main([*argv, "--out", str(out)]) == 0
    a, b = Front.load(tmp_path / "plain" / "front.json"), Front.load(out / "front.json")
    assert [(p.key, p.f1, p.val_acc, p.test_acc) for p in a] == [
        (p.key, p.f1, p.val_acc, p.test_acc) for p in b]


def test_a_journal_append_that_fails_leaves_no_half_line(tmp_path, monkeypatch):
    from moprune.hpo.storage import _WholeLinesJournal

    path = tmp_path / "study.journal"
    storage = optuna.storages.JournalStorage(_WholeLinesJournal(str(path)))
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    before = path.read_bytes()
    monkeypatch.setattr("moprune.hpo.storage.os.fsync", lambda fd: (_ for _ in ()).throw(FULL))
    with pytest.raises(WriteError, match=r"cannot write '.*study.journal': No space left"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert path.read_bytes() == before  # cut back to the last whole line
    monkeypatch.undo()
    again = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(
        _WholeLinesJournal(str(path))))
    again.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert [t.state.name for t in again.trials] == ["COMPLETE", "COMPLETE", "COMPLETE"]


def _small_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True)
    return done.returncode == 0


@pytest.mark.slow
def test_hpo_on_a_really_full_disk_fails_in_one_line_and_resumes(synthetic_root, tmp_path):
    """A real full disk (a 32 MiB tmpfs filled by a ballast file while `moprune hpo`
    runs): exit 1 with one line naming the file, a readable journal and no partial file;
    with the ballast removed the same command finishes the study."""
    disk = tmp_path / "disk"
    if not _small_tmpfs(disk, "32m"):
        pytest.skip("needs root and a tmpfs mount")
    try:
        out = disk / "run"
        cmd = [sys.executable, "-m", "moprune.cli", "hpo", "--model", "mlp", "--proxy",
               "none", "--data-root", str(synthetic_root), "--epochs", "2", "--trials", "6",
               "--top-k", "1", "--out", str(out)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not (
                out / "study.journal").exists():
            time.sleep(0.05)
        with open(disk / "ballast", "wb") as f:  # fill what is left
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        _, err = proc.communicate(timeout=300)
        lines = err.strip().splitlines()
        assert proc.returncode == 1, err
        assert len(lines) == 1 and f"cannot write '{out}/" in lines[0], err
        assert "No space left on device" in lines[0]
        assert not [p for p in out.rglob("*") if ".tmp" in p.name]
        for line in (out / "study.journal").read_bytes().splitlines():
            json.loads(line)  # whole lines only
        (disk / "ballast").unlink()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        results = json.loads((out / "results.json").read_text())
        assert results["counts"]["complete"] == 6
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
