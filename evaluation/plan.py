"""A study's analysis plan, declared when the study is created (before any judgment): which one
number heads the report (the primary estimand), for which system, at which alpha, and the planned
size. The report, the dashboard and summary.json lead with that number; the dashboard marks it
"interim" until the planned size is reached (stopping early on an interval that is recomputed
every 30 s is not offered: bench/interim_looks.py shows why)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

PRIMARY_CHOICES = ("decisive", "all")  # same names as evaluation.winrate.DEFINITIONS


class PlanError(ValueError):
    """An analysis plan that cannot be used; the message names the field."""


@dataclass(frozen=True)
class AnalysisPlan:
    primary: str = "decisive"  # wins / (wins + losses), the paper's 0.63; or "all": wins / all judgments
    target: str | None = None  # the system whose win rate is the primary estimand (default: dpo, else the last)
    alpha: float = 0.05
    planned_physicians: int | None = None
    planned_items: int | None = None
    max_share: float | None = None  # largest share of the judgments one physician may make (None: no cap)

    def __post_init__(self) -> None:
        if self.primary not in PRIMARY_CHOICES:
            raise PlanError(f"primary: must be one of {', '.join(PRIMARY_CHOICES)}, got {self.primary!r}")
        if not 0 < self.alpha < 0.5:
            raise PlanError(f"alpha: must be between 0 and 0.5, got {self.alpha}")
        for name in ("planned_physicians", "planned_items"):
            value = getattr(self, name)
            if value is not None and (int(value) != value or value < 1):
                raise PlanError(f"{name.replace('_', ' ')}: must be a whole number of at least 1, got {value}")
        if self.max_share is not None and not 0 < self.max_share <= 1:
            raise PlanError(f"max share: must be above 0 and at most 1, got {self.max_share}")
        if self.max_share is not None and self.planned_physicians and self.max_share * self.planned_physicians < 1:
            raise PlanError(f"max share: {self.max_share} x {self.planned_physicians} planned physicians cannot cover "
                            f"every judgment (it needs at least {1 / self.planned_physicians:.2f})")

    def as_dict(self, declared: bool = True) -> dict:
        return {**asdict(self), "declared": declared}


def interim_status(plan: dict, physicians: int, items: int) -> dict:
    """Whether the planned size is reached; the interval is marked interim until it is."""
    wanted = {"physicians": plan.get("planned_physicians"), "items": plan.get("planned_items")}
    now = {"physicians": physicians, "items": items}
    planned = {k: v for k, v in wanted.items() if v}
    reached = bool(planned) and all(now[k] >= v for k, v in planned.items())
    if not planned:
        text = ("interim: no planned size was declared, so no look is final; the interval is valid only at a size "
                "fixed in advance")
    elif reached:
        text = "final: the planned size is reached"
    else:
        text = ("interim: " + ", ".join(f"{now[k]} of {v} planned {k}" for k, v in planned.items())
                + "; do not stop on this interval (looking every 30 s and stopping when it excludes 0.5 inflates "
                  "false positives)")
    return {"final": reached, "planned": planned, "now": now, "text": text}
