"""data/safe_output.py: an --out never removes or replaces what the user owns (issue 23)."""

from __future__ import annotations

import json

import pytest

from data.safe_output import MANIFEST, OutputRefused, output_folder, write_file


def _write(staging, files):
    for name, text in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_text(text)


def test_new_folder_gets_output_and_manifest(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as staging:
        _write(staging, {"a.txt": "1", "sub/b.txt": "2"})
    assert (out / "a.txt").read_text() == "1" and (out / "sub" / "b.txt").read_text() == "2"
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest == {"files": ["a.txt", "sub/b.txt"], "folders": ["sub"]}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary sibling left


def test_non_empty_folder_refused_without_overwrite(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputRefused, match="not empty.*thesis.tex"):
        with output_folder(tmp_path) as staging:
            _write(staging, {"a.txt": "1"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


def test_overwrite_replaces_only_our_files(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as staging:
        _write(staging, {"a.txt": "old", "gone.txt": "old", "sub/b.txt": "old"})
    (out / "mine.txt").write_text("user")
    (out / "sub" / "notes.txt").write_text("user")
    with output_folder(out, overwrite=True) as staging:
        _write(staging, {"a.txt": "new"})
    assert (out / "a.txt").read_text() == "new"
    assert not (out / "gone.txt").exists() and not (out / "sub" / "b.txt").exists()
    assert (out / "mine.txt").read_text() == "user" and (out / "sub" / "notes.txt").read_text() == "user"


def test_overwrite_never_replaces_a_user_file_of_the_same_name(tmp_path):
    (tmp_path / "report.md").write_text("my own report")
    with pytest.raises(OutputRefused, match="not written by medalign"):
        with output_folder(tmp_path, overwrite=True) as staging:
            _write(staging, {"report.md": "generated"})
    assert (tmp_path / "report.md").read_text() == "my own report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_failure_leaves_old_output(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as staging:
        _write(staging, {"a.txt": "old"})
    with pytest.raises(RuntimeError):
        with output_folder(out, overwrite=True) as staging:
            _write(staging, {"a.txt": "half"})
            raise RuntimeError("crash mid-write")
    assert (out / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_manifest_cannot_point_outside(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "precious.txt").write_text("keep")
    (out / MANIFEST).write_text(json.dumps({"files": ["../precious.txt"], "folders": [".."]}))
    with output_folder(out, overwrite=True) as staging:
        _write(staging, {"a.txt": "1"})
    assert (tmp_path / "precious.txt").read_text() == "keep"


def test_files(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("user")
    with pytest.raises(OutputRefused, match="already exists"):
        write_file(target, b"new")
    assert target.read_text() == "user"
    write_file(target, b"new", overwrite=True)
    assert target.read_text() == "new"
    with pytest.raises(OutputRefused, match="is a folder"):
        write_file(tmp_path, b"new")
    (tmp_path / "afile").write_text("")
    with pytest.raises(OutputRefused, match="is a file, not a folder"):
        write_file(tmp_path / "afile" / "x.csv", b"new")
