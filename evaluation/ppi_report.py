"""The judge's part of a report: the prediction-powered headline (evaluation/ppi.py) beside the
physicians-only one, and the judge's validation against physicians (evaluation/judge_validation.py).

Export rows of both rater kinds come in; physicians' statistics use physicians' rows only (model
raters are never counted as physicians), the judge's verdicts enter only here. PPI is refused, in
words, unless the physician-judged items were declared a uniform random sample of the judged items.
"""

from __future__ import annotations

import numpy as np

from evaluation import judge_validation
from evaluation.ppi import PPIError, ppi_mean

NOT_A_SAMPLE = ("PPI refused: the physician-judged items were not declared a uniform random sample of the judged "
                "items (create the study with `--physician-sample N`, or for an export that is one, pass "
                "`--physician-sample random`). Without it the judge's errors could be correlated with which items "
                "physicians saw, and no interval would be valid; the physicians-only headline stands.")


def split_rows(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(physician rows, model-rater rows)."""
    return judge_validation.split_raters(rows)


def _pairwise_arrays(physicians, verdicts, target):
    def key(row):
        return (row["item_id"], *sorted((row["system_a"], row["system_b"])))

    def outcome(row):
        preferred = row.get("preferred_system") or ""
        return float(preferred == target), float(preferred != "")

    involved = [r for r in verdicts if target in (r["system_a"], r["system_b"]) and not r.get("is_gold")]
    judge = {key(r): outcome(r) for r in involved}
    phys = [r for r in physicians if target in (r["system_a"], r["system_b"]) and not r.get("is_gold")]
    missing = sorted({key(r)[0] for r in phys if key(r) not in judge})
    if missing:
        raise PPIError(f"{len(missing)} physician-judged item(s) have no judge verdict (first: {missing[0]!r}); "
                       f"run the judge on every unit first")
    units = list(judge)
    return ({"win": np.array([outcome(r)[0] for r in phys]), "dec": np.array([outcome(r)[1] for r in phys]),
             "f_win": np.array([judge[key(r)][0] for r in phys]), "f_dec": np.array([judge[key(r)][1] for r in phys]),
             "raters": [r["rater"] for r in phys], "items": [key(r)[0] for r in phys]},
            {"win": np.array([judge[u][0] for u in units]), "dec": np.array([judge[u][1] for u in units]),
             "items": [u[0] for u in units]})


def win_rate_ppi(physicians: list[dict], verdicts: list[dict], target: str, *, primary: str = "decisive",
                 declared_sample: bool = False, alpha: float = 0.05) -> dict:
    """`win_rate.ppi` of summary.json: {estimate, ci_low, ci_high, physician_judgments,
    model_judgments, lambda, ...}, or {"refused": why}."""
    if not declared_sample:
        return {"refused": NOT_A_SAMPLE}
    try:
        phys, judge = _pairwise_arrays(physicians, verdicts, target)
        if len(phys["win"]) < 2:
            raise PPIError("fewer than two physician judgments involve the target system")
        common = {"raters": phys["raters"], "items": phys["items"], "f_items": judge["items"], "alpha": alpha}
        if primary == "all":  # wins / all judgments: a plain mean
            result = ppi_mean(phys["win"], phys["f_win"], judge["win"], **common)
            out = result.as_dict()
        else:  # wins / decisive votes: PPI on the linearised ratio win - R0 * decisive
            if phys["dec"].sum() == 0:
                raise PPIError("no decisive physician vote: the decisive-vote rate does not exist")
            r0, d_bar = phys["win"].sum() / phys["dec"].sum(), phys["dec"].mean()
            z = ppi_mean(phys["win"] - r0 * phys["dec"], phys["f_win"] - r0 * phys["f_dec"],
                         judge["win"] - r0 * judge["dec"], **common)
            half, half_0 = (z.ci_high - z.ci_low) / 2 / d_bar, (z.classical["ci_high"] - z.classical["ci_low"]) / 2 / d_bar
            estimate = r0 + z.estimate / d_bar
            out = {**z.as_dict(), "estimate": estimate, "ci_low": estimate - half, "ci_high": estimate + half,
                   "se": z.se / d_bar, "classical": {"estimate": r0, "ci_low": r0 - half_0, "ci_high": r0 + half_0}}
    except PPIError as exc:
        return {"refused": f"PPI not computed: {exc}"}
    out.update(primary=primary, assumes=(
        "the physician-judged items are a uniform random sample of the judged items; physicians and items are random "
        "samples (two-way cluster-robust correction term, t on effective physicians - 1 df); valid whatever the "
        "judge's errors"))
    out["physicians_only"] = out.pop("classical")
    return out


def rating_ppi(physicians: list[dict], verdicts: list[dict], *, declared_sample: bool = False,
               alpha: float = 0.05) -> dict:
    """PPI means per (system, criterion) for likert and binary criteria."""
    if not declared_sample:
        return {"refused": NOT_A_SAMPLE}
    out = {}
    numeric = [r for r in verdicts if str(r.get("scale", "")).startswith("likert-") or r.get("scale") == "binary"]
    for system, criterion in sorted({(r["system"], r["criterion"]) for r in numeric}):
        judge = {r["item_id"]: float(r["value"]) for r in numeric if (r["system"], r["criterion"]) == (system, criterion)}
        phys = [r for r in physicians if (r["system"], r["criterion"]) == (system, criterion)]
        try:
            missing = sorted({r["item_id"] for r in phys} - set(judge))
            if missing:
                raise PPIError(f"{len(missing)} physician-graded item(s) have no judge grade (first: {missing[0]!r})")
            if len(phys) < 2:
                raise PPIError("fewer than two physician grades")
            result = ppi_mean(np.array([float(r["value"]) for r in phys]), np.array([judge[r["item_id"]] for r in phys]),
                              np.array(list(judge.values())), raters=[r["rater"] for r in phys],
                              items=[r["item_id"] for r in phys], f_items=list(judge), alpha=alpha).as_dict()
            result["physicians_only"] = result.pop("classical")
        except PPIError as exc:
            result = {"refused": f"PPI not computed: {exc}"}
        out[f"{system}/{criterion}"] = result
    return out


def judge_summary(rows: list[dict], *, kind: str, target: str | None = None, primary: str = "decisive",
                  declared_sample: bool = False, alpha: float = 0.05) -> dict | None:
    """The judge's sections of a report, or None when no model rater judged."""
    physicians, verdicts = split_rows(rows)
    if not verdicts:
        return None
    judges = sorted({r["rater"] for r in verdicts})
    if kind == "rating":
        return {"judges": judges, "ppi": rating_ppi(physicians, verdicts, declared_sample=declared_sample, alpha=alpha),
                "validation": judge_validation.validate_ratings(rows)}
    return {"judges": judges, "ppi": win_rate_ppi(physicians, verdicts, target, primary=primary,
                                                  declared_sample=declared_sample, alpha=alpha),
            "validation": judge_validation.validate_pairwise(rows, target)}


def render_text(section: dict) -> str:
    """The judge's sections as plain text (the command line and report.md)."""
    lines = [f"Model judge(s): {', '.join(section['judges'])}"]
    validation = section["validation"]
    if "judge_vs_majority" in validation:
        for label, key in (("judge vs physicians' majority", "judge_vs_majority"),
                           ("judge vs each physician", "judge_vs_each_physician"),
                           ("physician vs the other physicians", "physician_vs_other_physicians")):
            entry = validation.get(key)
            if entry:
                lines.append(f"  {label:<36} agreement {_fmt(entry['agreement'])} {_ci(entry['agreement_ci'])}  "
                             f"kappa {_fmt(entry['kappa'])} {_ci(entry['kappa_ci'])}  (n={entry['n']}, items={entry['items']})")
        table = validation["confusion"]["table"]
        lines.append("  confusion (rows: judge win/loss/tie; columns: physicians' majority): "
                     + " | ".join(" ".join(str(c) for c in row) for row in table))
        bias = validation["bias"]
        lines.append(f"  position: first-shown answer wins {_fmt(bias['position']['first_shown_share'])} of "
                     f"{bias['position']['decisive_replies']} decisive replies; order-inconsistent units "
                     f"{bias['position']['order_inconsistent']}; longer answer wins: judge "
                     f"{_fmt(bias['length']['judge_longer_wins'])}, physicians {_fmt(bias['length']['physicians_longer_wins'])}"
                     f"; target win rate: judge {_fmt(bias['system']['judge_win_rate'])}, physicians "
                     f"{_fmt(bias['system']['physician_win_rate'])}")
    else:
        for criterion, entry in validation.items():
            if isinstance(entry, dict) and "judge_vs_each_physician" in entry:
                j, p = entry["judge_vs_each_physician"], entry.get("physician_vs_physician") or {}
                lines.append(f"  {criterion}: judge vs physicians kappa ({entry['weights']}) {_fmt(j['kappa'])} "
                             f"{_ci(j['kappa_ci'])}; physician vs physician {_fmt(p.get('kappa'))}")
    ppi = section["ppi"]
    entries = {"win rate": ppi} if "refused" in ppi or "estimate" in ppi else ppi
    for name, entry in entries.items():
        if "refused" in entry:
            lines.append(f"  PPI {name}: {entry['refused']}")
        else:
            alone = entry["physicians_only"]
            lines.append(f"  PPI {name}: {entry['estimate']:.3f} [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}] "
                         f"(lambda {entry['lambda']:.2f}; {entry['physician_judgments']} physician + "
                         f"{entry['model_judgments']} model judgments); physicians alone {alone['estimate']:.3f} "
                         f"[{alone['ci_low']:.3f}, {alone['ci_high']:.3f}]")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _ci(ci) -> str:
    return "" if not ci else f"[{ci[0]:.2f}, {ci[1]:.2f}]"
