"""The issue-23 bad-input corpus: generic bad files (device, folder, missing, empty, binary, NUL,
UTF-16, Latin-1, one over-long line, over the size limit, a symlink loop) against every command
that reads a file, hostile YAML against the three YAML readers, and bad --out arguments against
the commands that write. Writes the small files here and cases.json (same format as
tests/corpus/independent/cases.json); big files are made per case in {tmp} (`make`).

    python tests/corpus/bad_inputs/gen.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
REL = "tests/corpus/bad_inputs"
DB = {"MEDALIGN_DATABASE_URL": "sqlite:///{tmp}/medalign.db"}

GENERIC = {  # name -> bytes (None: made by the runner or a special path)
    "empty.jsonl": b"",
    "png.jsonl": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "nul.jsonl": b'{"id": "q1", "question": "a\x00b"}\n',
    "utf16.jsonl": '{"id": "q1"}\n'.encode("utf-16"),
    "latin1.jsonl": '{"id": "q1", "question": "caf\u00e9"}\n'.encode("latin-1"),
    "not_json.jsonl": b"this is not json\n",
    "array.jsonl": b"[1, 2, 3]\n",
    "deep.jsonl": b'{"id": "q1", "question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
}
SPECIAL = {  # name -> how the file is made (medalign/testing/corpus.py knows these)
    "dev_zero": "/dev/zero",
    "a_folder": "{tmp}/a_folder",
    "missing.jsonl": "{tmp}/missing.jsonl",
    "long_line.jsonl": "{tmp}/long_line.jsonl",
    "over_size.jsonl": "{tmp}/over_size.jsonl",
    "loop.jsonl": "{tmp}/loop.jsonl",
}
YAML = {
    "deep.yaml": b"a: " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
    "deep_block.yaml": b"".join(b"  " * i + b"k%d:\n" % i for i in range(200)) + b"  " * 200 + b"v: 1\n",
    "dup_keys.yaml": b"name: r\nname: s\ncriteria: []\n",
    "python_tag.yaml": b"name: !!python/object/apply:os.system ['echo MEDALIGN_PWNED']\n",
    "billion_laughs.yaml": b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                           b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
    "binary.yaml": b"name: x\n\x00\x01\x02",
    "list.yaml": b"- a\n- b\n",
    "tab_indent.yaml": b"name: x\n\tcriteria: []\n",
}

COMMANDS = {  # name -> argv with {file}; env; no_output
    "study create --answers": (["study", "create", "--name", "s1", "--answers", "{file}"], DB, []),
    "study create --gold": (["study", "create", "--name", "s1", "--answers", f"{REL}/ok_answers.jsonl",
                             "--gold", "{file}"], DB, []),
    "study create --guidelines": (["study", "create", "--name", "s1", "--answers", f"{REL}/ok_answers.jsonl",
                                   "--guidelines", "{file}"], DB, []),
    "data prepare pubmedqa": (["data", "prepare", "pubmedqa", "--source", "{file}", "--n", "4", "--holdout", "1",
                               "--out", "{tmp}/out"], None, ["{tmp}/out/manifest.json"]),
    "report --judgments": (["report", "--judgments", "{file}", "--out", "{tmp}/report"], None, ["{tmp}/report"]),
    "report hq": (["report", "hq", "--generations", "{file}"], None, []),
    "train feedback": (["train", "feedback", "--judgments", "{file}", "--out", "{tmp}/pairs"], None, ["{tmp}/pairs"]),
    "report compare": (["report", "compare", "--task", "triage", "--out", "{tmp}/compare", "--predictions",
                        "base={file},sft={file},dpo={file}"], None, ["{tmp}/compare"]),
}
YAML_COMMANDS = {
    "study create --rubric": (["study", "create", "--kind", "rating", "--name", "r1", "--answers",
                               f"{REL}/ok_answers.jsonl", "--rubric", "{file}"], DB, []),
    "tasks show": (["tasks", "show", "{file}"], None, []),
    "train sft --config": (["train", "sft", "--config", "{file}", "--set", "output_dir={tmp}/run"], None, ["{tmp}/run"]),
}


def _case(file: str, command: tuple, why: str, **extra) -> dict:
    argv, env, no_output = command
    case = {"file": file, "argv": ["medalign", *argv], "expect": "refuse", "why": why, "no_output": no_output}
    if env:
        case["env"] = env
    return {**case, **extra}


def cases() -> list[dict]:
    out = []
    for label, command in COMMANDS.items():
        for name in GENERIC:
            # guidelines are free Markdown: an empty or non-JSON text is fine there, as long as it is text
            clean = label.endswith("--guidelines") and name in ("empty.jsonl", "not_json.jsonl", "array.jsonl", "deep.jsonl")
            out.append(_case(f"{REL}/{name}", command, f"generic bad file {name}", **({"expect": "clean"} if clean else {})))
        for name, path in SPECIAL.items():
            out.append(_case(path, command, f"special path {name}", make=name))
    for command in YAML_COMMANDS.values():
        for name in YAML:
            out.append(_case(f"{REL}/{name}", command, f"hostile YAML {name}"))
        for name in ("dev_zero", "a_folder", "over_size.yaml"):
            out.append(_case(SPECIAL.get(name, "{tmp}/" + name), command, f"special path {name}", make=name))
    ok = f"{REL}/ok_answers.jsonl"
    export_base = ["export", "--study", "s1", "--format"]
    for fmt, target, why in [
        ("csv", "{tmp}/victim", "export csv --out an existing folder holding a user's file"),
        ("hf", "{tmp}/victim", "export hf --out an existing folder holding a user's file"),
        ("csv", "{tmp}/victim/thesis.tex", "export csv --out an existing file of the user's"),
        ("parquet", "{tmp}/victim/thesis.tex/x.parquet", "export --out below a file"),
        ("jsonl", "/proc/medalign-cannot-write/x.jsonl", "export --out an unwritable place"),
    ]:
        out.append({"file": None, "argv": ["medalign", *export_base, fmt, "--out", target], "expect": "refuse",
                    "why": why, "env": DB, "make": "victim_and_study", "keep": ["{tmp}/victim/thesis.tex"],
                    "names": Path(target).name})
    for args in (["report", "--judgments", f"{REL}/ok_judgments.csv"], ["train", "feedback", "--judgments",
                                                                          f"{REL}/ok_judgments.csv"]):
        out.append({"file": None, "argv": ["medalign", *args, "--out", "{tmp}/victim"], "expect": "refuse",
                    "why": f"{args[0]} --out a folder holding a user's file", "make": "victim",
                    "keep": ["{tmp}/victim/thesis.tex"], "names": "victim"})
    prepared, model = f"{REL}/ok_prepared.jsonl", f"{REL}/no-model"  # refused before any model is loaded
    for args, target in [  # every other command that writes: --out at the user's folder, or at the user's file
        (["data", "prepare", "pubmedqa", "--n", "4", "--holdout", "1"], "victim"),
        (["data", "prepare", "meqsum", "--n", "4", "--holdout", "1"], "victim"),
        (["data", "prepare", "triage", "--n", "4", "--holdout", "1"], "victim"),
        (["train", "tiny-model", "--data", REL], "victim"),
        (["train", "pairs", "--model", model, "--data", prepared], "victim"),
        (["eval", "pairs", "--task", "triage", "--data", prepared, "--predictions", prepared], "victim"),
        (["generate", "--model", model, "--data", prepared, "--system", "sft"], "victim/thesis.tex"),
        (["eval", "run", "--task", "triage", "--model", model, "--system", "sft", "--data", prepared], "victim/thesis.tex"),
        (["eval", "score", "--task", "triage", "--data", prepared, "--generations", prepared, "--system", "sft"],
         "victim/thesis.tex"),
        (["train", "sft", "--config", "configs/tiny/sft.yaml", "--set", "output_dir={tmp}/victim"], None),
        (["train", "dpo", "--config", "configs/tiny/dpo.yaml", "--set", "output_dir={tmp}/victim"], None),
    ]:
        out.append({"file": None, "argv": ["medalign", *args, *(["--out", "{tmp}/" + target] if target else [])],
                    "expect": "refuse", "why": f"{' '.join(args[:2])} --out a {'file' if target and '/' in target else 'folder'}"
                    " of the user's", "make": "victim", "keep": ["{tmp}/victim/thesis.tex"], "names": "thesis.tex"})
    for args, why in [
        (["study", "create", "--name", "..", "--answers", ok], "study named .."),
        (["study", "create", "--name", "s1", "--answers", ok, "--systems", "sft"], "one system for a pairwise study"),
        (["study", "create", "--name", "s1", "--answers", ok, "--overlap", "-3"], "negative overlap"),
        (["study", "create", "--name", "s1", "--answers", ok, "--seed", "99999999999999999999999"], "huge seed"),
        (["study", "create", "--name", "s1\u0000x", "--answers", ok], "NUL in the study name"),
        (["study", "create", "--name", "s1", "--answers", f"{REL}/leaky_answers.jsonl", "--strict"],
         "answers naming their system, --strict"),
    ]:
        out.append({"file": None, "argv": ["medalign", *args], "expect": "refuse", "why": why, "env": DB})
    out.append({"file": ok, "argv": ["medalign", "study", "create", "--name", "s1", "--answers", "{file}"],
                "expect": "accept", "why": "control: a good answers file", "env": DB})
    out.append({"file": f"{REL}/ok_judgments.csv", "argv": ["medalign", "report", "--judgments", "{file}", "--out",
                                                           "{tmp}/report"], "expect": "accept", "why": "control: report"})
    return out


def write() -> None:
    for name, data in {**GENERIC, **YAML}.items():
        (HERE / name).write_bytes(data)
    rows = [{"id": f"q{i}", "question": f"Question {i}?", "outputs": {"sft": f"Answer one {i}.", "dpo": f"Answer two {i}."}}
            for i in range(4)]
    (HERE / "ok_answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows[0]["outputs"]["sft"] = "As the SFT model, I say yes."
    prepared = [{"id": f"p{i}", "question": f"Question {i}?", "context": "", "prompt": f"Question {i}?\n",
                 "answer": f"Answer {i}."} for i in range(4)]
    (HERE / "ok_prepared.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prepared))
    (HERE / "leaky_answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    header = ("item_id,rater,system_a,system_b,choice,preferred_system,is_gold,gold_better,evasive_a,evasive_b,"
              "rater_simulated,answer_a,answer_b,question,context\n")
    lines = [f"{i},r{k},sft,dpo,{'a' if (i + k) % 3 else 'b'},{'sft' if (i + k) % 3 else 'dpo'},false,,false,false,"
             f"false,x,y,Q{i},\n" for i in range(12) for k in range(2)]
    (HERE / "ok_judgments.csv").write_text(header + "".join(lines))
    (HERE / "cases.json").write_text(json.dumps(cases(), indent=1) + "\n")


if __name__ == "__main__":
    write()
