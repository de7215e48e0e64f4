"""The dataset card (README.md) written beside every prepared dataset: source, counts, files and their
sha256, prompt template, licence. Deterministic (no dates), so preparing twice gives identical files.
Model cards and pushing are training/share.py's."""

from __future__ import annotations

import json

import yaml


def _front_matter(meta: dict) -> str:
    return "---\n" + yaml.safe_dump({k: v for k, v in meta.items() if v not in (None, [], "")}, sort_keys=False) + "---\n"


def dataset_card(manifest: dict, *, license_id: str = "other") -> str:
    """README.md for a prepared dataset folder (manifest.json's content); deterministic (no dates)."""
    counts = manifest.get("counts", {})
    meta = {"license": license_id, "tags": ["medalign", manifest.get("dataset", "")],
            "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "train.jsonl"},
                                                                  {"split": "holdout", "path": "holdout.jsonl"}]}]}
    lines = [
        _front_matter(meta), f"# {manifest.get('dataset')}: prepared by medalign\n",
        f"Source: `{json.dumps(manifest.get('source', {}), sort_keys=True)}`", "",
        f"Train: {counts.get('train')}, holdout: {counts.get('holdout')}, duplicates dropped: "
        f"{counts.get('duplicates_dropped')}, seed {manifest.get('seed')}.",
        "\n## Files\n", *[f"- `{name}`: {f['lines']} lines, sha256 `{f['sha256']}`"
                          for name, f in sorted(manifest.get("files", {}).items())],
        "\n## Prompt template\n", "```", str(manifest.get("prompt_template", "")).rstrip(), "```",
        "\n## Licence\n", f"`{license_id}`: the source dataset's licence applies (PubMedQA: MIT; MeQSum: see its release).\n",
    ]
    return "\n".join(lines)
