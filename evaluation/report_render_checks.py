"""Formatting shared by the report's pages, and the report's tests rendered: the bias checks
(with the headline's design), the list of every printed test with its design, and the appendix of
tests that assume independent judgments."""

from __future__ import annotations

from evaluation.inert import md_text


def fmt(value, digits: int = 3) -> str:
    """A value for Markdown/HTML: numbers rounded, text escaped for both."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return md_text(value)  # escaped for Markdown and HTML at once (evaluation/inert.py)


def ci(entry: dict | None, low: str = "ci_low", high: str = "ci_high") -> str:
    if not entry or entry.get(low) is None or entry.get(high) is None:
        return "-"
    return f"{entry[low]:.3f}-{entry[high]:.3f}"


def p_text(value) -> str:
    return "-" if value is None else ("< 0.0001" if value < 1e-4 else f"{value:.4f}")


def bias_section(pb: dict, lb: dict) -> list[str]:
    """Bias tests with the headline's design; their independence versions are in the appendix."""
    lines = ["## Bias checks", "", "Every test here treats physicians and items as random samples (two-way "
             "cluster-robust, t on effective physicians - 1 df), like the headline.", ""]
    if pb.get("n"):
        lines.append(f"- Position: the left answer won {pb['left_wins']} of {pb['n']} decisive judgments "
                     f"({pb['left_share']:.3f}, 95% {ci(pb)}; test vs 0.5: p = {p_text(pb.get('p_value'))}; valid when "
                     f"sides are drawn at random).")
        if pb.get("odds_ratio_left") is not None:
            lines.append(f"- Position, one intercept per comparison (not confounded by which system sat on the left): "
                         f"balanced left share {pb['balanced_left_share']:.3f} ({pb['left_advantage_points']:+.1f} "
                         f"points); odds ratio of winning on the left {pb['odds_ratio_left']:.2f} "
                         f"({ci(pb, 'odds_ratio_ci_low', 'odds_ratio_ci_high')}), p = {p_text(pb['odds_ratio_p_value'])}.")
        elif pb.get("note") or pb.get("regression_note"):
            lines.append(f"- {fmt(pb.get('note') or pb.get('regression_note'))}")
    if lb.get("with_length_difference"):
        lines.append(f"- Length: the longer answer won {lb['longer_wins']} of {lb['with_length_difference']} decisive "
                     f"judgments ({lb['longer_share']:.3f}, 95% {ci(lb, 'longer_ci_low', 'longer_ci_high')}; test vs "
                     f"0.5: p = {p_text(lb.get('longer_p_value'))}).")
    if "coefficient" in lb:
        lines.append(f"- Logistic regression on the normalised length difference (scale: {lb['scale']}): coefficient "
                     f"{lb['coefficient']:.3f} (p = {p_text(lb['coefficient_p_value'])}; win odds x "
                     f"{lb['odds_ratio_per_0_1']:.3f} per 0.1 of length difference); length-controlled decisive-vote "
                     f"win rate {lb['length_controlled_win_rate']:.3f} ({ci(lb, 'lc_ci_low', 'lc_ci_high')}, "
                     f"{lb['interval']})." + (f" **{lb['interval_note']}**" if lb.get("interval_note") else ""))
    elif lb.get("note"):
        lines.append(f"- Length regression: {fmt(lb['note'])}")
    return lines + [""]


TWO_WAY = "physicians and items random (two-way cluster-robust, t on effective physicians - 1 df)"
PRINTED_TESTS = (  # every test the report prints, with its design
    ("Win rate vs 0.5 (headline and every definition)", "inverts the headline interval: " + TWO_WAY +
     "; with fewer than 5 physicians no test is printed (the item bootstrap cannot see physicians)"),
    ("Position: left share vs 0.5", TWO_WAY),
    ("Position: odds ratio of winning on the left, one intercept per comparison", "logistic regression, " + TWO_WAY),
    ("Length: longer answer's share vs 0.5", TWO_WAY),
    ("Length: logistic regression on the length difference", TWO_WAY),
    ("Appendix: Wilson, Clopper-Pearson, sign test, binomial, Mantel-Haenszel", "assumes independent judgments"),
)


def tests_listed() -> list[str]:
    lines = ["## Every test in this report and its design", "", "| Test | Design |", "|---|---|"]
    return lines + [f"| {name} | {design} |" for name, design in PRINTED_TESTS] + [""]


def appendix(summary: dict) -> list[str]:
    """Tests and intervals that assume independent judgments: shown for comparison only."""
    wr, pb, lb = summary.get("win_rate") or {}, summary.get("position_bias") or {}, summary.get("length_bias") or {}
    rows = []
    if wr:
        rows += [("Win rate, wins / all judgments", f"{fmt(wr['rate'])}: Wilson {ci(wr)}, Clopper-Pearson "
                  f"{ci(wr, 'cp_low', 'cp_high')}"),
                 ("Win rate, decisive votes", f"{fmt(wr['rate_decisive'])}: Wilson "
                  f"{ci(wr, 'decisive_ci_low', 'decisive_ci_high')}; exact sign test p = {p_text(wr['sign_test_p'])}")]
    ind = pb.get("independent") or {}
    if ind:
        rows.append(("Position, left share", f"Wilson {ci(ind, 'wilson_low', 'wilson_high')}, binomial p = "
                     f"{p_text(ind['binomial_p_value'])}"))
    if ind.get("cmh_p_value") is not None:
        rows.append(("Position, stratified", f"Mantel-Haenszel odds ratio {ind['mh_odds_ratio']:.2f} "
                     f"({ci(ind, 'mh_ci_low', 'mh_ci_high')}), CMH p = {p_text(ind['cmh_p_value'])}"))
    if (lb.get("independent") or {}).get("binomial_p_value") is not None:
        rows.append(("Length, longer answer's share", f"binomial p = {p_text(lb['independent']['binomial_p_value'])}"))
    if not rows:
        return []
    lines = ["## Appendix: tests that assume independent judgments", "",
             "These ignore that physicians and items repeat; with a true win rate of 0.5 the sign test rejected in 31% "
             "of simulated studies at a nominal 5% (bench/RESULTS.md). Do not read them as evidence.", "",
             "| Statistic | Assumes independent judgments |", "|---|---|"]
    return lines + [f"| {name} | {text} |" for name, text in rows] + [""]
