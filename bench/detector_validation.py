"""Validation of the automatic evasion detector (HQ screening aid), on answers it was not tuned on.

- Held-out test set: evaluation/data/evasion_test.jsonl, 80 answers written by a helper who never
  read the detector's code, split at random from 160 and committed before any tuning; figures
  for the learned detector (the default for question answering) and for the patterns alone.
- Development figure (labelled as such): 5-fold cross-validation on the development sets.
- Real expert conclusions: the share of PubMedQA gold long answers flagged
  (../shared/data/pubmedqa/ori_pqal.json), all 1,000 and the 500 of the official test split
  (never looked at while tuning).
Targets (issue 20): precision and recall >= 0.9 on the held-out set; <= 5% of conclusions flagged.

    .venv/bin/python bench/detector_validation.py [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import precision_score, recall_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation import evasion  # noqa: E402

PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa"


def held_out_rows() -> list[str]:
    test = evasion.load_labelled(evasion.TEST_SET)
    rows = []
    for name, detector in (("learned (default)", evasion.EvasionDetector.for_task("question_answering")),
                           ("patterns only", evasion.EvasionDetector())):
        r = evasion.validate(detector, test)
        rows.append(f"| {name} | {r['evasive']} / {r['direct']} | {r['precision']:.3f} | {r['recall']:.3f} | "
                    f"{r['false_positives']} | {r['false_negatives']} |")
    return rows


def development_cv() -> str:
    rows = evasion.development_rows()
    texts, truth = [r["text"] for r in rows], np.array([bool(r["evasive"]) for r in rows])
    with threadpool_limits(1):
        proba = cross_val_predict(clone(evasion.learned_model()), texts, truth, method="predict_proba",
                                  cv=StratifiedKFold(5, shuffle=True, random_state=0))[:, 1]
    predicted = proba >= evasion.LEARNED_THRESHOLD
    return (f"Development figure (5-fold cross-validation on the {len(rows)} development answers, which the "
            f"features and threshold were chosen on): precision {precision_score(truth, predicted):.3f}, "
            f"recall {recall_score(truth, predicted):.3f}.")


def conclusions() -> str:
    source = PUBMEDQA / "ori_pqal.json"
    if not source.is_file():
        return f"PubMedQA expert conclusions: {source} not found, not checked."
    items = json.loads(source.read_text())
    official = set(json.loads((PUBMEDQA / "test_ground_truth.json").read_text()))
    detector = evasion.EvasionDetector.for_task("question_answering")
    flagged = {k: bool(why) for k, why in zip(items, detector.reasons_many([v["LONG_ANSWER"] for v in items.values()]),
                                                strict=True)}
    in_test = [flagged[k] for k in items if k in official]
    return (f"PubMedQA expert conclusions flagged: {sum(flagged.values())} of {len(flagged)} "
            f"({np.mean(list(flagged.values())):.1%}); official test split (never looked at): {sum(in_test)} of "
            f"{len(in_test)} ({np.mean(in_test):.1%}); target <= 5%.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="print the markdown section here for pasting into RESULTS.md")
    args = parser.parse_args(argv)
    table = ["| detector | evasive / direct | precision | recall | false alarms | misses |", "|---|---|---|---|---|---|",
             *held_out_rows()]
    lines = ["Held-out test set (independent answers, frozen before tuning):", "", *table, "",
             f"- {development_cv()}", f"- {conclusions()}"]
    text = "\n".join(lines)
    print(text)
    if args.results:
        header = (f"## HQ evasion detector on answers it never saw (bench/detector_validation.py)\n\n"
                  f"{date.today()}, {platform.machine()} 2-core CPU, 24 GiB; "
                  f"`.venv/bin/python bench/detector_validation.py`.\n\n")
        args.results.write_text(header + text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
