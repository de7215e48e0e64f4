"""Replies of a judge on disk, keyed by (model and settings, prompt, allowed choices): a re-run, or a
run that resumes after a crash or a dead endpoint, sends only the prompts not answered yet.

One append-only JSONL file per cache folder; each reply is written and flushed as it arrives, so a
run stopped halfway keeps every reply it got. A torn last line (a kill mid-write) is skipped.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path


def cache_key(settings: dict, prompt: str, choices: list[str] | None) -> str:
    payload = json.dumps({"settings": settings, "prompt": prompt, "choices": choices}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ReplyCache:
    def __init__(self, folder: Path):
        self.path = Path(folder) / "replies.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._entries: dict[str, dict] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut off by a kill
                self._entries[entry["key"]] = entry

    def get(self, key: str) -> dict | None:
        return self._entries.get(key)

    def put(self, key: str, reply: str, prompt_tokens: int, completion_tokens: int, seconds: float) -> dict:
        entry = {"key": key, "reply": reply, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "seconds": round(seconds, 4)}
        with self._lock:
            self._entries[key] = entry
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                handle.flush()
        return entry

    def __len__(self) -> int:
        return len(self._entries)
