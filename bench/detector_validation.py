"""Validation of the automatic evasion detector (HQ): precision and recall on the labelled set
shipped in evaluation/data/evasion_labelled.jsonl, and the share of the real PubMedQA gold long
answers (expert conclusions, ../shared/data/pubmedqa/ori_pqal.json) that it flags.
Targets (issue 11): precision and recall >= 0.9; at most 5% of the expert conclusions flagged.

    .venv/bin/python bench/detector_validation.py --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.helpfulness import EvasionDetector, load_labelled, validate  # noqa: E402

PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pubmedqa", type=Path, default=PUBMEDQA)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args(argv)
    detector = EvasionDetector.for_task("question_answering")
    rows = load_labelled()
    result = validate(detector, rows)
    kinds = Counter(r["kind"] for r in rows)
    by_kind = {k: sum(detector.is_evasive(r["text"]) == r["evasive"] for r in rows if r["kind"] == k) / n
               for k, n in sorted(kinds.items())}
    lines = [f"Labelled set ({result['evasive']} evasive, {result['direct']} direct): precision "
             f"{result['precision']:.3f}, recall {result['recall']:.3f} ({result['false_positives']} false alarms, "
             f"{result['false_negatives']} misses).",
             "Correct by kind: " + ", ".join(f"{k} {v:.2f} (n={kinds[k]})" for k, v in by_kind.items()) + "."]
    if args.pubmedqa.is_file():
        answers = [v["LONG_ANSWER"] for v in json.loads(args.pubmedqa.read_text()).values()]
        flagged = [a for a in answers if detector.is_evasive(a)]
        lines.append(f"PubMedQA gold long answers flagged: {len(flagged)} of {len(answers)} "
                     f"({len(flagged) / len(answers):.1%}; target <= 5%).")
    else:
        lines.append(f"PubMedQA gold long answers: {args.pubmedqa} not found, not checked.")
    lines.append("Misses: " + "; ".join(f'"{m}"' for m in result["missed"]) + ". False alarms: "
                 + "; ".join(f'"{m}"' for m in result["false_alarms"]) + ".")
    text = "\n".join(f"- {line}" for line in lines)
    print(text)
    if args.results:
        command = "python bench/detector_validation.py " + " ".join(argv if argv is not None else sys.argv[1:])
        with args.results.open("a") as handle:
            handle.write(f"\n## HQ evasion detector validation (bench/detector_validation.py)\n\n2026-11-22, 2-core CPU, "
                         f"24 GiB; `{command}`. The labelled set was written for this project and the patterns were "
                         f"tuned while looking at it, so its figures are optimistic; the PubMedQA conclusions were "
                         f"looked at only to see why the old detector failed (a sample of its false flags), no "
                         f"pattern was fitted to them.\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
