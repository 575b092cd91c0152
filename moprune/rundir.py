"""A run directory's settings and its resume guard.

Every command writes its resolved settings into its run directory (``config.yaml``) and
resumes there. :class:`RunDir` is the one guard for it: :meth:`RunDir.check` refuses a
rerun with other settings (naming the setting and both values) without touching
anything, and :meth:`RunDir.write` writes the settings only once the command has checked
everything else, so a refused or failed command leaves the directory as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from moprune.errors import MopruneError

__all__ = ["RunDir", "settings_diff"]

SETTINGS_FILE = "config.yaml"  # RunLayout.config's name


def _plain(value: Any) -> Any:
    """Tuples to lists and other JSON round-trip normalisation, as read back."""
    return json.loads(json.dumps(value))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


def settings_diff(old: Mapping[str, Any], new: Mapping[str, Any],
                  may_differ: Iterable[str] = (), defaults: Mapping[str, Any] | None = None
                  ) -> list[tuple[str, Any, Any]]:
    """The settings of ``new`` that differ from ``old``: ``(dotted key, old, new)``.

    Keys in ``may_differ`` (a dotted key or a prefix of one) are ignored; keys that only
    ``old`` has are ignored too (a directory may record more than is checked now). A key
    that ``old`` lacks (a setting added since that run was made) stands for its value in
    ``defaults``, or is ignored when ``defaults`` lacks it too.
    """
    skip = tuple(may_differ)
    flat_old, flat_new = _flatten(_plain(old)), _flatten(_plain(new))
    flat_default = _flatten(_plain(dict(defaults or {})))
    for key in set(flat_new) - set(flat_old):
        flat_old[key] = flat_default.get(key, flat_new[key])
    diff = []
    for key, value in flat_new.items():
        if any(key == s or key.startswith(s + ".") for s in skip):
            continue
        if key not in flat_old and any(k.startswith(key + ".") for k in flat_old):
            continue  # an empty section now, a filled one then: compared key by key
        if flat_old.get(key, _MISSING) != value:
            diff.append((key, flat_old.get(key, _MISSING), value))
    return diff


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"


_MISSING = _Missing()


class RunDir:
    """The settings of a command's run directory, checked before any work and written
    after.

    Args:
        path: The run directory.
        settings: The command's resolved settings (plain values, nested dicts).
        may_differ: Settings a rerun may change (dotted keys), e.g. a budget.
        legacy: Older names of the settings file, read when ``config.yaml`` is absent.
        defaults: The settings' defaults, for runs made before a setting existed.
        normalize: Brings saved settings of an older version to the current form (a
            config read and written again); saved settings it refuses are compared as
            they are.
    """

    def __init__(self, path: str | os.PathLike[str], settings: Mapping[str, Any], *,
                 may_differ: Iterable[str] = (), legacy: Iterable[str] = (),
                 defaults: Mapping[str, Any] | None = None,
                 normalize: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None
                 ) -> None:
        self.path = Path(path)
        self.settings = _plain(dict(settings))
        self.may_differ = tuple(may_differ)
        self.legacy = tuple(legacy)
        self.defaults = defaults
        self.normalize = normalize

    @property
    def file(self) -> Path:
        return self.path / SETTINGS_FILE

    def saved(self) -> dict[str, Any] | None:
        """The settings the directory holds, or None for a new run."""
        import yaml

        for name in (SETTINGS_FILE, *self.legacy):
            f = self.path / name
            if f.is_file():
                if name.endswith(".json"):
                    from moprune.io import read_json

                    return dict(read_json(f))
                try:
                    saved = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
                except (yaml.YAMLError, UnicodeDecodeError):
                    raise MopruneError(f"{str(f)!r} is damaged (not YAML); delete the run "
                                       "directory or use another --out") from None
                if not isinstance(saved, dict):
                    raise MopruneError(f"{str(f)!r} is damaged: not a mapping of settings")
                if not set(saved) & set(self.settings):
                    what = "empty" if not saved else (
                        f"a mapping of {', '.join(map(str, list(saved)[:3]))}"
                        + (", ..." if len(saved) > 3 else ""))
                    raise MopruneError(f"{str(f)!r} is not a moprune config of this command "
                                       f"({what}); delete it or use another --out")
                return saved
        return None

    def check(self) -> None:
        """Refuse to resume a run made with other settings; touches nothing.

        Raises:
            MopruneError: naming the first differing setting and both values.
        """
        old = self.saved()
        if old is None:
            return
        if self.normalize is not None:
            with contextlib.suppress(MopruneError):  # else compared as it is
                old = dict(self.normalize(old))
        diff = settings_diff(old, self.settings, self.may_differ, self.defaults)
        if diff:
            key, was, now = diff[0]
            more = f" (and {len(diff) - 1} more)" if len(diff) > 1 else ""
            raise MopruneError(f"{self.path} holds a run with other settings: {key} is "
                               f"{was!r} there, {now!r} now{more}; use another --out, or the "
                               "same settings to resume")

    def write(self) -> None:
        """Write the settings (atomically; not at all when the file already holds them)."""
        import yaml

        from moprune.io import write_text

        text = yaml.safe_dump(self.settings, sort_keys=False)
        if self.file.is_file() and self.file.read_text(encoding="utf-8") == text:
            return
        write_text(self.file, text)
