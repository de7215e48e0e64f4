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


KEYS = ("files", "folders", "entries", "single")


def _manifest(folder: Path) -> dict:
    """files/folders: what the last `output_folder` command wrote and created (replaced by its next
    run); entries: top-level names a command writes in place (`claim_folder`: a training run, its
    checkpoints); single: output files that a command merges into (`claim_file`: generations)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {k: [p for p in data.get(k, []) if isinstance(p, str)] if isinstance(data.get(k), list) else []
            for k in KEYS}


def _write_manifest(folder: Path, manifest: dict) -> None:
    from data.files import write_atomic

    kept = {k: sorted(set(v)) for k, v in manifest.items() if v or k in ("files", "folders")}
    write_atomic(folder / MANIFEST, (json.dumps(kept, indent=1) + "\n").encode())


def _ours(manifest: dict, relative: str) -> bool:
    """Whether `relative` (inside the folder) was written by medalign, by any command's record."""
    top = Path(relative).parts[0] if Path(relative).parts else relative
    return relative in manifest["files"] or top in manifest["entries"] or relative in manifest["single"]


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
    for relative in files:
        target = _inside(path, relative)
        if target is None:
            raise _refuse(path, f"{relative} would leave the folder")
        if (target.exists() or target.is_symlink()) and not _ours(old, relative):
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
    _write_manifest(path, dict(old, files=files, folders=kept))


def claim_folder(path: Path, entries: list[str], *, overwrite: bool = False, resume: bool = False,
                 record: bool = True) -> None:
    """A folder a command writes into in place (a training run: TRL saves checkpoints there as it
    goes; `train pairs`: its generations, so an interrupted run resumes). The folder is the
    command's own when its manifest lists the `entries` (top-level names) the command writes;
    a non-empty folder that is not is refused unless `overwrite` (write beside its files) or
    `resume` (the user says it is an earlier run of this command, e.g. from before manifests).
    Either way an entry whose name a file not written by medalign already has is refused.
    With `record` (the main process of a multi-process run) the manifest claims the entries."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise _refuse(path, "is a file, not a folder")
    old = _manifest(path)
    owned = set(old["entries"])
    # the manifest's own temporary sibling (write_atomic) does not make the folder someone else's:
    # another rank of the same launch may be writing it right now
    if path.is_dir() and any(not p.name.startswith(f".{MANIFEST}.") for p in path.iterdir()):
        mine = owned & set(entries)
        if not mine and not (overwrite or resume):
            found = sorted(p.name for p in path.iterdir())[:3]
            raise _refuse(path, f"is a folder that is not empty (holds {', '.join(found)}) and not an earlier "
                                "output of this command; give another output folder, --resume to continue a run "
                                "written there, or --overwrite to write beside its files (never replacing them)")
        if resume and not mine:
            owned |= set(entries)  # an earlier run of this command, written before manifests existed
        for name in entries:
            target = path / name
            if (target.exists() or target.is_symlink()) and name not in owned and not _ours(old, name):
                raise _refuse(target, "exists and was not written by medalign (move it away, or give another "
                                      "output folder)")
    _parent_ready(path)
    if record:
        try:
            path.mkdir(exist_ok=True)
            _write_manifest(path, dict(old, entries=sorted(owned | set(entries))))
        except OSError as exc:
            raise _refuse(path, f"cannot write: {exc.strerror or exc}") from exc


def owns_file(path: Path) -> bool:
    """Whether medalign wrote (claimed) this output file: its folder's manifest lists it."""
    return Path(path).name in _manifest(Path(path).parent)["single"]


def check_merge_file(path: Path, *, overwrite: bool = False, resume: bool = False, command: str = "this command") -> bool:
    """An output file a command merges into (`generate`: other systems' answers are kept and ids
    already answered are skipped, so an interrupted run resumes). Its own file (`claim_file`) is
    merged into; any other existing file is refused unless `resume` (merge into it, keeping its
    rows) or `overwrite` (replace it). Returns True when the output starts fresh (overwrite)."""
    path = Path(path)
    if path.is_dir():
        raise _refuse(path, "is a folder; give a file name")
    fresh = False
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise _refuse(path, "is not a regular file")
        if overwrite:
            fresh = True
        elif not (resume or owns_file(path)):
            raise _refuse(path, f"already exists and was not written by {command} (give --resume to add to it, "
                                "keeping its rows, or --overwrite to replace it)")
    _parent_ready(path)
    return fresh


def claim_file(*paths: Path) -> None:
    """Record output files (in one folder) in that folder's manifest as medalign's own: a later
    run merges into them or replaces them; nothing else in the folder is touched."""
    if not paths:
        return
    folder = Path(paths[0]).parent
    old = _manifest(folder)
    try:
        _write_manifest(folder, dict(old, single=sorted(set(old["single"]) | {Path(p).name for p in paths})))
    except OSError as exc:
        raise _refuse(Path(paths[0]), f"cannot write beside it: {exc.strerror or exc}") from exc
