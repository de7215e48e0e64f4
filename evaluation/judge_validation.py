"""Is the model judge good enough? The judge against physicians on the units physicians judged.

Pairwise labels are relative to the target system: "win" (target preferred), "loss", "tie" (tie or
both bad). Reported: the judge against the physicians' majority and against each physician
(agreement, Cohen's kappa), physician against physician on the same units beside it (is the judge
within human agreement?), the confusion table, and the judge's biases: position (the first-shown
answer's share of its decisive replies, from both orders), order inconsistency, length (how often
the longer answer wins, judge vs physicians on the same units) and system (the judge's win rate of
the target minus the physicians'). Ratings: per criterion, exact agreement and quadratic-weighted
kappa, judge vs physicians and physician vs physician.

Intervals resample items (Med-PaLM style, 1,000 rounds, percentile): units of one item move together.
Rows are export rows with `rater_kind` ("physician" or "model"); rows without it are physicians'.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
from scipy.stats import binomtest

LABELS = ("win", "loss", "tie")
ROUNDS = 1000


def rater_kind(row: dict) -> str:
    return row.get("rater_kind") or "physician"


def split_raters(rows: list[dict], judge: str | None = None) -> tuple[list[dict], list[dict]]:
    """(physician rows, model rows of `judge` or of every model rater)."""
    physicians = [r for r in rows if rater_kind(r) == "physician"]
    models = [r for r in rows if rater_kind(r) == "model" and (judge is None or r["rater"] == judge)]
    return physicians, models


def _unit(row: dict) -> tuple:
    return (row["item_id"], *sorted((row["system_a"], row["system_b"])))


def _label(row: dict, target: str) -> str:
    preferred = row.get("preferred_system") or ""
    return "tie" if not preferred else ("win" if preferred == target else "loss")


def kappa(pairs_a, pairs_b, categories, weights=None) -> float | None:
    """Cohen's kappa of two label sequences (weights="quadratic" for ordinal categories)."""
    index = {c: k for k, c in enumerate(categories)}
    k = len(categories)
    table = np.zeros((k, k))
    for a, b in zip(pairs_a, pairs_b, strict=True):
        table[index[a], index[b]] += 1
    return _kappa_from_table(table, weights)


def _kappa_from_table(table: np.ndarray, weights=None) -> float | None:
    total = table.sum()
    if total == 0:
        return None
    k = table.shape[0]
    grid = np.arange(k)
    disagreement = ((grid[:, None] - grid[None, :]) ** 2 / max(k - 1, 1) ** 2 if weights == "quadratic"
                    else (grid[:, None] != grid[None, :]).astype(float))
    observed = (table * disagreement).sum() / total
    expected = (np.outer(table.sum(1), table.sum(0)) * disagreement).sum() / total ** 2
    return None if expected == 0 else float(1 - observed / expected)


def _bootstrap(items: list, pairs_by_item: dict, categories, weights=None, seed: int = 0) -> dict:
    """Agreement and kappa of (a, b) label pairs, with item-resampled 95% percentile intervals."""
    k, index = len(categories), {c: i for i, c in enumerate(categories)}
    tables = np.zeros((len(items), k, k))
    for i, item in enumerate(items):
        for a, b in pairs_by_item[item]:
            tables[i, index[a], index[b]] += 1
    total = tables.sum(0)
    out = {"n": int(total.sum()), "items": len(items), "agreement": float(np.trace(total) / total.sum())
           if total.sum() else None, "kappa": _kappa_from_table(total, weights)}
    if len(items) < 2 or not total.sum():
        return {**out, "agreement_ci": None, "kappa_ci": None}
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(items), np.full(len(items), 1 / len(items)), size=ROUNDS).astype(float)
    resampled = np.einsum("bi,ijk->bjk", draws, tables)
    sums = resampled.sum(axis=(1, 2))
    agreement = np.trace(resampled, axis1=1, axis2=2) / np.where(sums > 0, sums, 1)
    kappas = np.array([_kappa_from_table(t, weights) if t.sum() else np.nan for t in resampled], dtype=float)
    kappas = kappas[np.isfinite(kappas)]
    return {**out, "agreement_ci": [float(x) for x in np.quantile(agreement, [0.025, 0.975])],
            "kappa_ci": [float(x) for x in np.quantile(kappas, [0.025, 0.975])] if len(kappas) > 10 else None}


def _majority(labels: list[str]) -> str:
    counts = Counter(labels).most_common()
    return counts[0][0] if len(counts) == 1 or counts[0][1] > counts[1][1] else "tie"


def _pairwise_pairs(physicians, verdicts, target):
    """Judge label per unit, physician labels per unit, on units both judged."""
    judge = {_unit(r): _label(r, target) for r in verdicts}
    by_unit = defaultdict(list)
    for r in physicians:
        if _unit(r) in judge:
            by_unit[_unit(r)].append((r["rater"], _label(r, target)))
    return judge, by_unit


def validate_pairwise(rows: list[dict], target: str, *, judge: str | None = None, seed: int = 0) -> dict:
    """The judge against physicians on a pairwise study's export rows (gold rows left out)."""
    rows = [r for r in rows if not r.get("is_gold")]
    physicians, verdicts = split_raters(rows, judge)
    if not verdicts:
        return {"note": "no model-rater judgments: run `medalign judge run` first"}
    judge_labels, by_unit = _pairwise_pairs(physicians, verdicts, target)
    items = sorted({u[0] for u in by_unit})
    majority = defaultdict(list)
    each = defaultdict(list)
    peer = defaultdict(list)
    per_physician = defaultdict(lambda: defaultdict(list))
    confusion = Counter()
    for unit, judged in by_unit.items():
        labels = [label for _, label in judged]
        majority[unit[0]].append((judge_labels[unit], _majority(labels)))
        confusion[(judge_labels[unit], _majority(labels))] += 1
        for k, (rater, label) in enumerate(judged):
            each[unit[0]].append((judge_labels[unit], label))
            per_physician[rater][unit[0]].append((judge_labels[unit], label))
            others = [lab for j, (_, lab) in enumerate(judged) if j != k]
            if others:  # this physician against the others' majority, as the judge is against all of them
                peer[unit[0]].append((label, _majority(others)))
    peer_items = sorted(peer)
    return {
        "target": target, "units": len(by_unit), "items": len(items),
        "judge_vs_majority": _bootstrap(items, majority, LABELS, seed=seed),
        "judge_vs_each_physician": _bootstrap(items, each, LABELS, seed=seed),
        "physician_vs_other_physicians": _bootstrap(peer_items, peer, LABELS, seed=seed) if peer_items else None,
        "per_physician": {rater: _bootstrap(sorted(pairs), pairs, LABELS, seed=seed)
                          for rater, pairs in sorted(per_physician.items())},
        "confusion": {"rows_judge_columns_majority": list(LABELS),
                      "table": [[confusion[(a, b)] for b in LABELS] for a in LABELS]},
        "bias": pairwise_bias(physicians, verdicts, target, judge_labels, by_unit),
    }


def _replies(row: dict) -> list[str] | None:
    try:
        record = json.loads(row.get("rationale") or "{}")
    except json.JSONDecodeError:
        return None
    return record.get("replies") if isinstance(record, dict) else None


def pairwise_bias(physicians, verdicts, target, judge_labels, by_unit) -> dict:
    first = decisive = asked = 0
    for row in verdicts:
        replies = _replies(row)
        if not replies or len(replies) != 2:
            continue
        asked += 1
        for reply in replies:
            word = reply.strip().lower()
            if word in ("1", "2"):
                decisive += 1
                first += word == "1"
    position = {"first_shown_share": first / decisive if decisive else None, "decisive_replies": decisive,
                "p_value": float(binomtest(first, decisive, 0.5).pvalue) if decisive else None,
                "order_inconsistent": sum(1 for r in verdicts if _order_inconsistent(r)), "units_asked": asked}
    longer_judge, longer_phys, n_judge, n_phys = 0, 0, 0, 0
    for row in verdicts:
        longer = _longer_system(row)
        if longer and row.get("preferred_system"):
            n_judge += 1
            longer_judge += row["preferred_system"] == longer
    for row in physicians:
        longer = _longer_system(row)
        if _unit(row) in judge_labels and longer and row.get("preferred_system"):
            n_phys += 1
            longer_phys += row["preferred_system"] == longer
    judge_rate = np.mean([lab == "win" for lab in judge_labels.values()]) if judge_labels else None
    phys = [lab for unit in by_unit for _, lab in by_unit[unit]]
    return {"position": position,
            "length": {"judge_longer_wins": longer_judge / n_judge if n_judge else None, "judge_decisive": n_judge,
                       "physicians_longer_wins": longer_phys / n_phys if n_phys else None,
                       "physicians_decisive": n_phys},
            "system": {"judge_win_rate": None if judge_rate is None else float(judge_rate),
                       "physician_win_rate": float(np.mean([lab == "win" for lab in phys])) if phys else None}}


def _order_inconsistent(row: dict) -> bool:
    try:
        return json.loads(row.get("rationale") or "{}").get("order_consistent") is False
    except (json.JSONDecodeError, AttributeError):
        return False


def _longer_system(row: dict) -> str | None:
    a, b = len(row.get("answer_a") or ""), len(row.get("answer_b") or "")
    return None if a == b else (row["system_a"] if a > b else row["system_b"])


def validate_ratings(rows: list[dict], *, judge: str | None = None, seed: int = 0) -> dict:
    """Per criterion: the judge's grade against each physician's and physician against physician,
    exact agreement and quadratic-weighted kappa (likert; plain kappa otherwise)."""
    physicians, verdicts = split_raters(rows, judge)
    if not verdicts:
        return {"note": "no model-rater judgments: run `medalign judge run` first"}
    out = {}
    for criterion in sorted({r["criterion"] for r in verdicts}):
        scale = next(r.get("scale", "") for r in verdicts if r["criterion"] == criterion)
        key = lambda r: (r["item_id"], r["system"])  # noqa: E731
        judged = {key(r): r["value"] for r in verdicts if r["criterion"] == criterion}
        by_unit = defaultdict(list)
        for r in physicians:
            if r["criterion"] == criterion and key(r) in judged:
                by_unit[key(r)].append(r["value"])
        categories = sorted({*judged.values(), *(v for vs in by_unit.values() for v in vs)}, key=str)
        if str(scale).startswith("likert-"):
            categories = list(range(1, int(str(scale).split("-")[1]) + 1))
        weights = "quadratic" if str(scale).startswith("likert-") else None
        each, peer = defaultdict(list), defaultdict(list)
        for unit, values in by_unit.items():
            for k, value in enumerate(values):
                each[unit[0]].append((judged[unit], value))
                for j, other in enumerate(values):
                    if j != k:
                        peer[unit[0]].append((value, other))
        out[criterion] = {"scale": scale, "weights": weights or "none",
                          "judge_vs_each_physician": _bootstrap(sorted(each), each, categories, weights, seed),
                          "physician_vs_physician": _bootstrap(sorted(peer), peer, categories, weights, seed)
                          if peer else None}
    return out
