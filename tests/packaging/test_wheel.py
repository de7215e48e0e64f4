"""The wheel installs and runs anywhere (issue 24, point 3): built from the project, installed into a
fresh environment that reuses the present torch and other dependencies (nothing downloaded), then
`medalign tasks list`, `medalign data prepare pubmedqa` and `medalign demo --no-serve` run in an
empty folder, far from the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("app", "data", "training", "evaluation", "medalign", "configs", "pyproject.toml", "README.md")


def run(command: list[str], cwd: Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    """A wheel built from a clean copy of the sources, pip-installed (--no-deps) into a new venv whose
    site-packages has a .pth to this environment's, so torch & co. are reused rather than downloaded."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(src, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"),
         str(source)], root, env)
    wheel = next((root / "dist").glob("medalign-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"data/configs/tasks/medqa.yaml", "data/configs/rubrics/clinical-axes.yaml", "data/configs/tiny/sft.yaml",
            "data/configs/accelerate/zero3.yaml", "data/sample/pubmedqa_sample.json"} <= names
    assert not any(n.startswith(("configs/", "tests/")) for n in names)  # one copy, inside the package

    venv = root / "env"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root, env)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # after the wheel's own files: this environment's packages (torch, transformers, ...), not its medalign
    (site / "zz_reuse_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        root, env)
    env = dict(env, PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    return venv, env


@pytest.mark.slow
def test_installed_wheel_lists_tasks_and_prepares_data_in_an_empty_folder(installed, tmp_path):
    venv, env = installed
    medalign = str(venv / "bin" / "medalign")
    where = run([str(venv / "bin" / "python"), "-c", "import data, training; print(data.__file__, training.__file__)"],
                tmp_path, env).stdout
    assert str(REPO) not in where and str(venv) in where  # the installed copy, not the checkout
    listed = run([medalign, "tasks", "list"], tmp_path, env).stdout
    assert all(task in listed for task in ("medqa", "pubmedqa-longform", "triage"))
    run([medalign, "data", "prepare", "pubmedqa", "--n", "40", "--holdout", "8", "--out", "data"], tmp_path, env)
    assert (tmp_path / "data" / "train.jsonl").is_file() and (tmp_path / "data" / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written elsewhere


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 2 minutes on a quiet 2-core machine; far more when other work holds the cores
def test_installed_wheel_runs_the_demo_in_an_empty_folder(installed, tmp_path):
    venv, env = installed
    run([str(venv / "bin" / "medalign"), "demo", "--no-serve", "--workdir", "demo"], tmp_path, env, timeout=1700)
    assert (tmp_path / "demo" / "dpo" / "run.json").is_file() and (tmp_path / "demo" / "report").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
