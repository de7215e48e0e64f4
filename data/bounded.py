"""Bounded reads (issue 23): every file the command line reads is checked before it is parsed, so
/dev/zero, a folder, a binary file or a file of one enormous line is refused at once, with a
message naming the file and the limit, instead of filling the memory. The limits can be raised
for a genuinely large file with the environment variables named. YAML: a depth limit and no
repeated keys."""

from __future__ import annotations

import os
from pathlib import Path

from data.records import DataError

MAX_INPUT_BYTES = 1 << 30  # MEDALIGN_MAX_INPUT_BYTES: a gigabyte of judgments or data
MAX_LINE_BYTES = 8 << 20  # MEDALIGN_MAX_LINE_BYTES: one JSONL record (answers are at most 200k characters)
MAX_CONFIG_BYTES = 1 << 20  # MEDALIGN_MAX_CONFIG_BYTES: a rubric, task or recipe YAML
MAX_YAML_DEPTH = 32  # the shipped files nest 4 deep


def limit(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def check_input_file(path: Path, *, max_bytes: int | None = None, env: str = "MEDALIGN_MAX_INPUT_BYTES") -> int:
    """The file's size, after refusing what is not a regular file or is larger than the limit."""
    import stat

    file = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError("cannot read file: file not found", file=file) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", file=file) from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError("is a folder, not a file", file=file)
    if not stat.S_ISREG(info.st_mode):
        raise DataError("not a regular file (a device, pipe or socket): refused", file=file)
    cap = max_bytes or limit(env, MAX_INPUT_BYTES)
    if info.st_size > cap:
        raise DataError(f"{info.st_size} bytes, more than the limit of {cap} ({env} raises it)", file=file)
    return info.st_size


def read_bounded(path: Path, *, max_bytes: int | None = None, max_line_bytes: int | None = None,
                 env: str = "MEDALIGN_MAX_INPUT_BYTES") -> bytes:
    """A text file's bytes: a regular file within the size limit, no NUL byte (a binary file is
    refused by name), no line longer than the line limit."""
    cap = max_bytes or limit(env, MAX_INPUT_BYTES)
    check_input_file(path, max_bytes=cap, env=env)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(cap + 1)  # the file may have grown since it was checked
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None
    if len(raw) > cap:
        raise DataError(f"more than the limit of {cap} bytes ({env} raises it)", file=str(path))
    check_text_bytes(raw, str(path), max_line_bytes=max_line_bytes)
    return raw


def check_text_bytes(raw: bytes, file: str, *, max_line_bytes: int | None = None) -> None:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16/32 byte-order mark: text, but not UTF-8
        raise DataError("not valid UTF-8 (it is UTF-16 or UTF-32: save it as UTF-8)", file=file, line=1)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"a binary file, not text (NUL byte at offset {nul})", file=file, line=raw.count(b"\n", 0, nul) + 1)
    line_cap = max_line_bytes or limit("MEDALIGN_MAX_LINE_BYTES", MAX_LINE_BYTES)
    if len(raw) <= line_cap:
        return
    start = 0
    while start < len(raw):  # C-level find per line: ~0.1 s for 100 MB of short lines
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        if end - start > line_cap:
            raise DataError(f"line of more than {line_cap} bytes (MEDALIGN_MAX_LINE_BYTES raises the limit)",
                            file=file, line=raw.count(b"\n", 0, start) + 1)
        start = end + 1


def read_first_line(path: Path, max_bytes: int = 1 << 20) -> bytes:
    """The first non-blank line, at most `max_bytes` of it (a file of one huge line is not read
    whole just to look at its header); b"" when unreadable."""
    try:
        check_input_file(path)
        with open(path, "rb") as handle:
            head = handle.readline(max_bytes)
            while head and not head.strip():
                head = handle.readline(max_bytes)
    except (OSError, ValueError):
        return b""
    return head


def load_yaml(path: Path, loader=None):
    """A YAML file through a SafeLoader (or `loader`, a SafeLoader subclass) that refuses
    repeated keys and nesting deeper than MAX_YAML_DEPTH; the file is read bounded first.
    Raises DataError naming the file and line."""
    import yaml

    raw = read_bounded(path, max_bytes=limit("MEDALIGN_MAX_CONFIG_BYTES", MAX_CONFIG_BYTES),
                       env="MEDALIGN_MAX_CONFIG_BYTES")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid YAML: not valid UTF-8 (byte {exc.start})", file=str(path),
                        line=raw[: exc.start].count(b"\n") + 1) from None
    try:
        return yaml.load(text, Loader=_strict_loader(loader or yaml.SafeLoader))  # noqa: S506 (SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        message = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise DataError(f"not valid YAML: {message}", file=str(path), line=mark.line + 1 if mark else None) from None


_STRICT_LOADERS: dict = {}


def _strict_loader(base):
    """`base` with a depth limit (PyYAML composes recursively: deep nesting would end in a
    RecursionError) and duplicate keys refused (PyYAML silently keeps the last)."""
    if base in _STRICT_LOADERS:
        return _STRICT_LOADERS[base]
    import yaml

    class Strict(base):
        _depth = 0

        def compose_node(self, parent, index):
            self._depth += 1
            try:
                if self._depth > MAX_YAML_DEPTH:
                    raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_YAML_DEPTH} levels deep",
                                                      self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges; explicit keys may override
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: the base loader reports it
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice",
                                                            key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    _STRICT_LOADERS[base] = Strict
    return Strict


MAX_JSON_DEPTH = 1000  # Python's json stops there too; pyarrow's JSON reader recurses until the stack ends (a crash)


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{}\n")


def check_json_depth(path: Path, max_depth: int = MAX_JSON_DEPTH, chunk_bytes: int = 16 << 20) -> None:
    """Refuse a JSONL file in which a line opens more than `max_depth` brackets at once, before a
    columnar reader that would crash on it sees it. Only brackets and newlines are kept (a C-level
    bytes.translate), then the depth per line is a numpy cumulative sum (brackets inside strings
    count too: a text would need hundreds of unclosed ones on one line to matter)."""
    import numpy as np

    depth_at_start, line = 0, 1
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            data = np.frombuffer(chunk.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
            if not len(data):
                continue
            step = (data == 91).astype(np.int32) + (data == 123) - (data == 93) - (data == 125)
            running = np.cumsum(step, dtype=np.int64) + depth_at_start
            newline = data == 10
            last = np.maximum.accumulate(np.where(newline, np.arange(len(data)), -1))  # depth counts from the last newline
            depth = running - np.where(last >= 0, running[np.maximum(last, 0)], 0)
            if depth.max(initial=0) > max_depth:
                at = int(np.argmax(depth > max_depth))
                raise DataError(f"JSON nested more than {max_depth} levels deep", file=str(path),
                                line=line + int(newline[:at].sum()))
            line += int(newline.sum())
            depth_at_start = 0 if newline[-1] else int(depth[-1])
