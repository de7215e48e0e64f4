"""Win rates of one system against another from pairwise judgments.

Input rows follow the judgment export (app.storage.EXPORT_COLUMNS); the fields used are
`choice`, `preferred_system`, `item_id` and `rater`. "Both bad" counts as a tie for the rate
and is also reported on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

TIE_CHOICES = ("Tie", "Both bad")


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
    rate: float  # published definition: wins / n
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


def tally(rows: list[dict], system: str) -> tuple[int, int, int, int]:
    """(wins, losses, ties, both_bad) of `system`."""
    wins = losses = ties = both_bad = 0
    for row in rows:
        if row["choice"] == "Tie":
            ties += 1
        elif row["choice"] == "Both bad":
            both_bad += 1
        elif row["preferred_system"] == system:
            wins += 1
        else:
            losses += 1
    return wins, losses, ties, both_bad


def win_rate(rows: list[dict], system: str, *, alpha: float = 0.05) -> WinRate:
    wins, losses, ties, both_bad = tally(rows, system)
    n = wins + losses + ties + both_bad
    if n == 0:
        raise NoJudgments("no judgments: a win rate needs at least one")
    wl, wh = proportion_confint(wins, n, alpha=alpha, method="wilson")
    cl, ch = proportion_confint(wins, n, alpha=alpha, method="beta")
    decisive = wins + losses
    if decisive:
        dl, dh = proportion_confint(wins, decisive, alpha=alpha, method="wilson")
        p_value = binomtest(wins, decisive, 0.5, alternative="two-sided").pvalue
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
