"""data/safe_output.py: an --out never removes or replaces what the user owns (issue 23)."""

from __future__ import annotations

import json

import pytest

from data.safe_output import MANIFEST, OutputRefused, check_merge_file, claim_file, claim_folder, output_folder, owns_file, write_file


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


RUN = ["run.json", "checkpoints"]


def test_claim_folder_refuses_a_users_folder_and_never_an_entry_of_theirs(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputRefused, match="not empty.*thesis.tex.*--resume.*--overwrite"):
        claim_folder(tmp_path, RUN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]
    (tmp_path / "run.json").write_text("the user's")
    with pytest.raises(OutputRefused, match="run.json: exists and was not written by medalign"):
        claim_folder(tmp_path, RUN, overwrite=True)
    (tmp_path / "run.json").unlink()
    claim_folder(tmp_path, RUN, overwrite=True)  # beside the user's file
    assert json.loads((tmp_path / MANIFEST).read_text())["entries"] == RUN[::-1]
    (tmp_path / "run.json").write_text("ours now")
    claim_folder(tmp_path, RUN)  # its own folder: no flag needed
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


def test_claim_folder_new_or_resumed(tmp_path):
    out = tmp_path / "a" / "run"
    claim_folder(out, RUN)
    assert out.is_dir() and json.loads((out / MANIFEST).read_text())["entries"] == sorted(RUN)
    old = tmp_path / "old-run"  # a run written before manifests existed: --resume adopts it
    (old / "checkpoints").mkdir(parents=True)
    with pytest.raises(OutputRefused):
        claim_folder(old, RUN)
    claim_folder(old, RUN, resume=True)
    claim_folder(old, RUN)
    with pytest.raises(OutputRefused, match="is a file"):
        claim_folder(tmp_path / "a" / "run" / MANIFEST, RUN)
    claim_folder(tmp_path / "dry", RUN, record=False)  # a non-main rank checks, writes nothing
    assert not (tmp_path / "dry" / MANIFEST).exists()


def test_a_later_output_folder_keeps_the_claims_of_other_commands(tmp_path):
    claim_folder(tmp_path, RUN)
    (tmp_path / "run.json").write_text("trainer's")
    claim_file(tmp_path / "gen.jsonl")
    with output_folder(tmp_path, overwrite=True) as staging:
        _write(staging, {"report.md": "r", "run.json": "replaced: medalign's own"})
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["entries"] == sorted(RUN) and manifest["single"] == ["gen.jsonl"]
    assert manifest["files"] == ["report.md", "run.json"]


def test_merge_file_own_resume_overwrite(tmp_path):
    mine, theirs = tmp_path / "gen.jsonl", tmp_path / "theirs.jsonl"
    assert check_merge_file(mine) is False  # new
    mine.write_text("{}\n")
    with pytest.raises(OutputRefused, match="not written by `gen`.*--resume.*--overwrite"):
        check_merge_file(mine, command="`gen`")
    claim_file(mine, tmp_path / "gen.run.json")
    assert owns_file(mine) and check_merge_file(mine) is False  # its own: merged into
    theirs.write_text("{}\n")
    assert not owns_file(theirs)
    assert check_merge_file(theirs, resume=True) is False and check_merge_file(theirs, overwrite=True) is True
    assert theirs.read_text() == "{}\n"  # checking never changes a file
    with pytest.raises(OutputRefused, match="is a folder"):
        check_merge_file(tmp_path)
