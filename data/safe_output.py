"""Writing a command's output without touching what the user owns (issue 23).

Every `--out` goes through here. An existing file or a non-empty folder is refused unless the
caller passes `overwrite=True`; even then only the files this command wrote before (listed in
the folder's manifest, `MANIFEST`) are replaced or removed, never a file it did not write and
never a folder it did not create. The output is first written to a temporary sibling and then
renamed into place, so a failure leaves the old output (or nothing) behind, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from data.records import DataError

MANIFEST = ".medalign-output.json"  # the files (and folders) a command wrote into an --out folder


class OutputRefused(DataError):
    """The output path holds something this command may not replace."""


def _refuse(path: Path, why: str) -> OutputRefused:
    return OutputRefused(f"{why}; nothing was written", file=str(path))


def _parent_ready(path: Path) -> None:
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise _refuse(path, f"{parent} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refuse(path, f"cannot create the folder {parent}: {exc.strerror or exc}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _refuse(path, f"the folder {parent} is not writable")


def check_output_file(path: Path, *, overwrite: bool = False) -> None:
    """Refuse an output file path that is a folder, or an existing file unless `overwrite`."""
    path = Path(path)
    if path.is_dir():
        raise _refuse(path, "is a folder; give a file name")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise _refuse(path, "already exists (give --overwrite to replace it)")
        if not path.is_file():
            raise _refuse(path, "is not a regular file")
    _parent_ready(path)


def write_file(path: Path, payload: bytes, *, overwrite: bool = False) -> None:
    """One output file: checked, written to a temporary sibling, renamed into place."""
    from data.files import write_atomic

    check_output_file(path, overwrite=overwrite)
    try:
        write_atomic(Path(path), payload)
    except OSError as exc:
        raise _refuse(Path(path), f"cannot write: {exc.strerror or exc}") from exc


def _manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": [], "folders": []}
    if not isinstance(data, dict):
        return {"files": [], "folders": []}
    return {k: [p for p in data.get(k, []) if isinstance(p, str)] for k in ("files", "folders")}


def _inside(folder: Path, relative: str) -> Path | None:
    """The path `relative` names inside `folder`, or None when it would leave the folder."""
    candidate = folder / relative
    try:
        candidate.resolve().relative_to(folder.resolve())
    except ValueError:
        return None
    return candidate


def _listing(staging: Path) -> tuple[list[str], list[str]]:
    files, folders = [], []
    for root, dirs, names in os.walk(staging):
        base = Path(root).relative_to(staging)
        folders += [str(base / d) for d in dirs]
        files += [str(base / n) for n in names if n != MANIFEST]
    return sorted(files), sorted(folders)


def check_output_folder(path: Path, *, overwrite: bool = False) -> None:
    """Refuse a file, or a non-empty folder unless `overwrite` (then only our own files go)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise _refuse(path, "is a file, not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        found = sorted(p.name for p in path.iterdir())[:3]
        raise _refuse(path, f"is a folder that is not empty (holds {', '.join(found)}); "
                            "give another --out, or --overwrite to replace what medalign wrote there")
    _parent_ready(path)


@contextlib.contextmanager
def output_folder(path: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder to write the output into; on success its files replace `path`.

    A new folder is renamed into place whole. Into an existing folder (empty, or with
    `overwrite`), the files of the previous manifest are removed, then the new files moved in;
    a new file whose name a user's file already has is refused before anything is touched.
    """
    path = Path(path)
    check_output_folder(path, overwrite=overwrite)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name or 'out'}.", dir=path.parent))
    except OSError as exc:
        raise _refuse(path, f"cannot write beside it: {exc.strerror or exc}") from exc
    try:
        yield staging
        files, folders = _listing(staging)
        if not path.exists():
            (staging / MANIFEST).write_text(json.dumps({"files": files, "folders": folders}, indent=1) + "\n")
            staging.rename(path)
            return
        _replace_into(path, staging, files, folders)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)  # our own temporary folder only


def _replace_into(path: Path, staging: Path, files: list[str], folders: list[str]) -> None:
    old = _manifest(path)
    ours = set(old["files"])
    for relative in files:
        target = _inside(path, relative)
        if target is None:
            raise _refuse(path, f"{relative} would leave the folder")
        if (target.exists() or target.is_symlink()) and relative not in ours:
            raise _refuse(target, "exists and was not written by medalign (move it away, or give another --out)")
        if target.is_dir():
            raise _refuse(target, "is a folder where the output has a file")
    for relative in old["files"]:  # what our previous run wrote, and only that
        target = _inside(path, relative)
        if target is not None and (target.is_file() or target.is_symlink()):
            target.unlink()
    created = []
    for relative in folders:
        if not (path / relative).exists():
            (path / relative).mkdir(parents=True)
            created.append(relative)
    for relative in files:
        os.replace(staging / relative, path / relative)
    for relative in sorted(set(old["folders"]) - set(folders), key=len, reverse=True):
        target = _inside(path, relative)
        with contextlib.suppress(OSError):  # only when empty: a folder holding a user's file stays
            if target is not None and target.is_dir() and not target.is_symlink():
                target.rmdir()
    kept = sorted(set(created) | (set(old["folders"]) & set(folders)))  # folders we made, never a user's
    from data.files import write_atomic

    write_atomic(path / MANIFEST, (json.dumps({"files": files, "folders": kept}, indent=1) + "\n").encode())
