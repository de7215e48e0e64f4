"""Model and dataset cards, written beside every adapter, merged model and prepared dataset, and
`--push-to-hub REPO` to share them.

A card says what the artefact is: the recipe (resolved config), the data it was trained on (paths
and sha256 from run.json or the data manifest), the metrics, the base model and the licence. Cards
are written locally in every case; pushing is a separate step. REPO is a Hugging Face Hub repository
("user/name", through huggingface_hub) or a local folder ("file:///path" or a path starting with
"/" or "."), so sharing is tested offline and a group can share through a file server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from data.safe_output import MANIFEST as OUTPUT_MANIFEST

DEFAULT_LICENSE = "other"  # the base model's licence governs; the user names it with --license


def _front_matter(meta: dict) -> str:
    return "---\n" + yaml.safe_dump({k: v for k, v in meta.items() if v not in (None, [], "")}, sort_keys=False) + "---\n"


def model_card(run: dict, *, kind: str, license_id: str = DEFAULT_LICENSE) -> str:
    """README.md for an adapter or merged model of a run (run.json's content)."""
    config = run.get("config", {})
    base = config.get("model_name_or_path")
    summary = {k: v for k, v in run.items() if k.startswith(("reward_margin", "eval_", "final_loss", "quantized"))}
    meta = {"license": license_id, "base_model": base if kind == "adapter" else None,
            "library_name": "peft" if kind == "adapter" else "transformers",
            "tags": ["medalign", run.get("stage", ""), "trl", "medical"]}
    lines = [
        _front_matter(meta),
        f"# {Path(config.get('output_dir', 'model')).name}: {run.get('stage', '').upper()} {kind}\n",
        f"Trained with medalign ({run.get('stage')} stage, TRL) from `{base}`."
        + (" A LoRA adapter: load it on its base model with PEFT." if kind == "adapter"
           else " The adapter merged into its base model."),
        "\n## Data\n",
        *[f"- {name}: `{item['path']}` (sha256 `{item['sha256']}`)" for name, item in run.get("inputs", {}).items()],
        "", f"Counts: `{json.dumps(run.get('counts', {}), sort_keys=True)[:2000]}`",
        "\n## Prompt format\n", f"`{json.dumps(run.get('chat_template'))}`",
        "\n## Metrics\n", *([f"- {k}: {v}" for k, v in summary.items()] or ["- (none recorded)"]),
        "\n## Recipe\n", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```",
        "\n## Licence\n", f"`{license_id}`: the base model's licence and the training data's terms apply.",
        f"\nSoftware: {json.dumps(run.get('versions', {}), sort_keys=True)}; commit {run.get('git_commit')}.\n",
    ]
    return "\n".join(lines)


def write_model_cards(output_dir: Path, run: dict, *, license_id: str = DEFAULT_LICENSE) -> list[Path]:
    """adapter/README.md and merged/README.md of a finished run (whichever exist)."""
    written = []
    for kind, folder in (("adapter", "adapter"), ("merged model", "merged")):
        path = Path(output_dir) / folder
        if path.is_dir():
            (path / "README.md").write_text(model_card(run, kind=kind.split()[0], license_id=license_id), encoding="utf-8")
            written.append(path / "README.md")
    return written


def is_local_target(repo: str) -> bool:
    return repo.startswith(("file://", "/", "./", "../"))


def push_folder(folder: Path, repo: str, *, repo_type: str = "model", private: bool = True) -> str:
    """Upload a folder (with its card) to a Hub repository, or copy it into a local target folder.
    Returns where it went."""
    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise ValueError(f"{folder} has no README.md card: nothing is shared without one")
    if is_local_target(repo):
        target = Path(repo.removeprefix("file://"))
        target.mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            if item.name == OUTPUT_MANIFEST:
                continue  # this machine's record of what medalign wrote, not part of what is shared
            destination = target / item.name
            if item.is_dir():
                shutil.copytree(item, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(item, destination)
        return str(target)
    try:
        from huggingface_hub import HfApi
    except ImportError as exc:  # a dependency of transformers: present unless removed
        raise ValueError("--push-to-hub needs huggingface_hub (pip install huggingface_hub)") from exc
    api = HfApi()
    api.create_repo(repo, repo_type=repo_type, private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type=repo_type, ignore_patterns=[OUTPUT_MANIFEST],
                      commit_message="medalign: upload with card")
    return f"https://huggingface.co/{'datasets/' if repo_type == 'dataset' else ''}{repo}"
