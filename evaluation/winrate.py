"""Win rates of one system against another from pairwise judgments.

Input rows follow the judgment export (evaluation.contract.PairwiseJudgment); the fields used are
`choice` (a contract.Choice code), `preferred_system`, `item_id` and `rater`. Both bad counts as a tie for the rate
and is also reported on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from evaluation import crossed
from evaluation.distributions import binomtest_pvalue, proportion_confint
from evaluation.intervals import ASSUMES
from evaluation.plan import PRIMARY_CHOICES, interim_status
from evaluation.table import BOTH_BAD, TIE, from_rows


class NoJudgments(ValueError):
    """Raised instead of dividing by zero: there is nothing to compute a rate from."""


@dataclass(frozen=True)
class WinRate:
    system: str
    n: int  # all judgments
    wins: int
    losses: int
    ties: int  # "Tie" only
    both_bad: int
    rate: float  # wins / all judgments
    ci_low: float  # Wilson 95% for rate
    ci_high: float
    cp_low: float  # Clopper-Pearson 95% for rate
    cp_high: float
    rate_ties_half: float  # (wins + (ties + both_bad) / 2) / n
    rate_decisive: float | None  # wins / (wins + losses); None without decisive votes
    decisive_ci_low: float | None
    decisive_ci_high: float | None
    sign_test_p: float | None  # exact two-sided binomial test of wins among decisive votes vs 0.5

    def as_dict(self) -> dict:
        return asdict(self)


def from_counts(system: str, wins: int, losses: int, ties: int, both_bad: int, *, alpha: float = 0.05) -> WinRate:
    """Every definition with its simple interval (these assume independent judgments)."""
    wins, losses, ties, both_bad = int(wins), int(losses), int(ties), int(both_bad)
    n = wins + losses + ties + both_bad
    if n == 0:
        raise NoJudgments("no judgments: a win rate needs at least one")
    wl, wh = proportion_confint(wins, n, alpha=alpha, method="wilson")
    cl, ch = proportion_confint(wins, n, alpha=alpha, method="beta")
    decisive = wins + losses
    if decisive:
        dl, dh = proportion_confint(wins, decisive, alpha=alpha, method="wilson")
        p_value = binomtest_pvalue(wins, decisive, 0.5, "two-sided")
    else:
        dl = dh = p_value = None
    return WinRate(
        system=system, n=n, wins=wins, losses=losses, ties=ties, both_bad=both_bad,
        rate=wins / n, ci_low=float(wl), ci_high=float(wh), cp_low=float(cl), cp_high=float(ch),
        rate_ties_half=(wins + (ties + both_bad) / 2) / n,
        rate_decisive=wins / decisive if decisive else None,
        decisive_ci_low=None if dl is None else float(dl), decisive_ci_high=None if dh is None else float(dh),
        sign_test_p=None if p_value is None else float(p_value),
    )


def per_rater_table(table, system: str, *, alpha: float = 0.05) -> list[dict]:

    code = table.system_code(system)
    involved = (table.system_a == code) | (table.system_b == code)
    scored = involved & ~table.is_gold
    gold = table.is_gold & (table.gold_better >= 0)
    preferred = table.preferred
    n_raters = len(table.raters)

    def count(mask):
        return np.bincount(table.rater[mask], minlength=n_raters)

    judged, wins = count(scored), count(scored & (preferred == code))
    ties, both_bad = count(scored & (table.choice == TIE)), count(scored & (table.choice == BOTH_BAD))
    gold_judged, gold_hits = count(gold), count(gold & (preferred == table.gold_better))
    simulated = count(table.simulated) > 0
    low, high = proportion_confint(wins, np.maximum(judged, 1), alpha=alpha, method="wilson")
    out = []
    for r, rater in enumerate(table.raters):
        entry = {"rater": rater, "simulated": bool(simulated[r]), "judgments": int(judged[r]),
                 "gold_judged": int(gold_judged[r]),
                 "gold_accuracy": float(gold_hits[r] / gold_judged[r]) if gold_judged[r] else None}
        if judged[r]:
            entry.update(rate=float(wins[r] / judged[r]), ci_low=float(low[r]), ci_high=float(high[r]),
                         wins=int(wins[r]), ties=int(ties[r]), both_bad=int(both_bad[r]),
                         losses=int(judged[r] - wins[r] - ties[r] - both_bad[r]))
        out.append(entry)
    return out


def credibly_below(hits: int, judged: int, threshold: float, *, level: float = 0.05) -> bool:
    """True when gold accuracy is credibly below `threshold`: the one-sided exact binomial test of
    accuracy >= threshold rejects at `level` (3 of 4 right at a 0.8 threshold does not: p = 0.59)."""
    return judged > 0 and binomtest_pvalue(int(hits), int(judged), threshold, "less") < level


def target_mask(table, system: str) -> np.ndarray:
    """Scored (non-gold) judgments in which `system` took part."""
    code = table.system_code(system)
    return ~table.is_gold & ((table.system_a == code) | (table.system_b == code))


DEFINITIONS = {"decisive": "wins / (wins + losses): ties and both bad excluded (the paper's 0.63 is this share)",
               "all": "wins / all judgments (ties and both bad count as not winning)",
               "ties_half": "(wins + (ties + both bad) / 2) / all judgments"}
POPULATION = "physicians and items as random samples"


def win_rate_table(table, system: str, mask: np.ndarray | None = None, *, rounds: int = 1000, seed: int = 0,
                   alpha: float = 0.05, primary: str = "decisive") -> dict:
    """The simple counts and intervals (WinRate) plus, for each definition, the crossed intervals
    (evaluation.crossed.interval_set); `headline` is the primary definition's headline interval
    with the two-sided test against 0.5 that inverts it (the analysis plan's primary estimand)."""
    if primary not in PRIMARY_CHOICES:
        raise ValueError(f"primary must be one of {PRIMARY_CHOICES}, got {primary!r}")
    code = table.system_code(system)
    mask = target_mask(table, system) if mask is None else mask
    if not mask.any():
        raise NoJudgments(f"no scored judgment involves {system!r}")
    choice, preferred = table.choice[mask], table.preferred[mask]
    win = preferred == code
    tie_like = (choice == TIE) | (choice == BOTH_BAD)
    decisive = ~tie_like
    simple = from_counts(system, win.sum(), (decisive & ~win).sum(), (choice == TIE).sum(), (choice == BOTH_BAD).sum(),
                         alpha=alpha)
    columns = np.column_stack([win, win + 0.5 * tie_like, decisive, np.ones(len(win))])
    intervals = crossed.interval_set(table.rater[mask], table.item[mask], columns,
                                     {"decisive": (0, 2), "all": (0, 3), "ties_half": (1, 3)},
                                     rounds=rounds, seed=seed, alpha=alpha, n_raters=len(table.raters),
                                     n_items=len(table.items), null=0.5)
    for name, entry in intervals.items():
        entry["definition"] = DEFINITIONS[name]
    chosen = intervals[primary]["headline"]
    headline = {**chosen, "definition": primary, "label": DEFINITIONS[primary], "population": POPULATION}
    return {**simple.as_dict(), "primary": primary, "headline": headline, "intervals": intervals,
            "simple_intervals_assume": ASSUMES["independent"]}


def live_headline(rows: list[dict], first: str, second: str, plan: dict | None = None, *, rounds: int = 500) -> dict:
    """The dashboard's number for the comparison first vs second: the report's headline (same code,
    the plan's primary definition, second's rate) with its test against 0.5, marked interim until
    the plan's size is reached (evaluation.plan.interim_status)."""
    plan = plan or {}
    primary = plan.get("primary") or "decisive"
    result = win_rate_table(from_rows(rows), second, rounds=rounds, primary=primary, alpha=plan.get("alpha") or 0.05)
    head = result["headline"]
    status = interim_status(plan, head["physicians"], head["items"])
    notes = [f"{head['label']}; {head['assumes']}", status["text"]]
    notes += [head[k] for k in ("note", "workload_warning") if head.get(k)]
    return {"estimate": head["estimate"], "ci_low": head["ci_low"], "ci_high": head["ci_high"], "p_value": head.get("p_value"),
            "definition": primary, "label": head["label"], "final": status["final"], "n": result["n"],
            "counts": f"wins {result['wins']}, losses {result['losses']}, ties {result['ties']}, both bad "
                      f"{result['both_bad']}", "notes": "; ".join(notes)}
