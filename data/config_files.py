"""Where the shipped configs (tasks, rubrics, recipes, accelerate, judges) are, installed or not.

One copy: the repository's top-level `configs/`, which the wheel ships as package data of
`data` (`data/configs` is a link to it in the source tree), so importlib.resources finds it in
a checkout, an editable install and a plain `pip install` alike. A path the user gives is read
relative to the current folder; when no such file exists and the path names a shipped config
(`configs/tiny/sft.yaml`), the shipped one is used, so the README's commands run from any folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED_PREFIX = "configs"


def configs_dir() -> Path:
    """The shipped configs folder (a real folder: `data` is installed unzipped)."""
    return Path(str(resources.files("data") / "configs"))


def shipped_config(relative: str | Path) -> Path:
    """A shipped config by its path under configs/, e.g. 'tiny/sft.yaml'."""
    return configs_dir() / Path(relative)


def resolve_config(path: str | Path) -> Path:
    """The user's file when it exists (relative to the current folder); else the shipped config the
    path names (`configs/X` or `X` under the shipped folder); else the path as given, so the
    reader's error names what the user typed."""
    path = Path(path)
    if path.exists() or path.is_absolute():
        return path
    parts = path.parts
    relative = Path(*parts[1:]) if parts and parts[0] == SHIPPED_PREFIX and len(parts) > 1 else path
    shipped = shipped_config(relative)
    return shipped if shipped.is_file() else path
