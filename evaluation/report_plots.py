"""The report's plots (matplotlib, Agg backend): each as PNG (200 dpi), and for print as SVG and
PDF (vector). report.html embeds the SVG (evaluation/report_render.py), so it is one file.
Axis labels are words, not TRL metric names.

PlotWorker draws them in a child process (`python -m evaluation.report_plots`), started before the
statistics: it imports matplotlib and loads its fonts (~0.5 s of CPU) on the other core while the
report computes, then draws the summary it is sent. If the child cannot start or fails, the plots
are drawn in the report's own process, where any error is raised as before."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

FORMATS = ("png", "svg", "pdf")
PNG_DPI = 200
# TRL's logged names, as a reader understands them.
MARGIN_LABEL = "reward margin: chosen minus rejected\n(beta-scaled log-probability ratio)"
ACCURACY_LABEL = "share of pairs ranked correctly"
PLOTS = [("win_rate.png", "Win rate with 95% intervals"), ("reward_margin.png", "DPO reward margin"),
         ("position_bias.png", "Position bias"), ("hq.png", "Helpfulness Quotient per system")]


def _yerr(values, lows, highs) -> list[list[float]]:
    """Error bar lengths, clipped at 0 (interval ends can sit a rounding error inside the value)."""
    return [[max(0.0, v - (lo if lo is not None else v)) for v, lo in zip(values, lows, strict=True)],
            [max(0.0, (hi if hi is not None else v) - v) for v, hi in zip(values, highs, strict=True)]]


def _win_rate(ax, summary: dict) -> None:
    wr = summary["win_rate"]
    labels, values, lows, highs = [], [], [], []
    for name, label in (("decisive", "ties excluded"), ("all", "wins / all"), ("ties_half", "ties half")):
        entry = wr["intervals"][name]
        if entry["estimate"] is None:
            continue
        headline = entry["headline"]
        labels.append(f"{label}\n{headline['method'].replace('_', ' ')}")
        values.append(entry["estimate"])
        lows.append(headline["ci_low"])
        highs.append(headline["ci_high"])
    labels.append("wins / all\nWilson (independence)")
    values.append(wr["rate"])
    lows.append(wr["ci_low"])
    highs.append(wr["ci_high"])
    ax.errorbar(range(len(values)), values, yerr=_yerr(values, lows, highs), fmt="o", capsize=5)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.axhline(0.63, color="tab:red", linestyle=":", linewidth=1, label="published 0.63 (decisive votes)")
    ax.set_xticks(range(len(values)), labels, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"win rate of {summary['target']}")
    ax.legend(loc="lower right", fontsize=8)


def write_plots(summary: dict, out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig, name):
        fig.tight_layout()
        stem = name.rsplit(".", 1)[0]
        for form in FORMATS:
            # SVG and PDF without a creation date: the same report gives the same files.
            metadata = {"Date": None} if form in ("svg", "pdf") else None
            fig.savefig(Path(out_dir) / f"{stem}.{form}", dpi=PNG_DPI, metadata=metadata)
            written.append(f"{stem}.{form}")
        plt.close(fig)

    if summary.get("win_rate"):
        fig, ax = plt.subplots(figsize=(7.5, 3.8))
        _win_rate(ax, summary)
        save(fig, "win_rate.png")
    curve = (summary.get("run") or {}).get("curve")
    if curve:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot([c["step"] for c in curve], [c["margin"] for c in curve], marker="o", markersize=3, label="reward margin")
        ax.set_xlabel("training step")
        ax.set_ylabel(MARGIN_LABEL)
        if any(c.get("accuracy") is not None for c in curve):
            twin = ax.twinx()
            twin.plot([c["step"] for c in curve], [c.get("accuracy") for c in curve], color="tab:orange", alpha=0.6)
            twin.set_ylabel(ACCURACY_LABEL, color="tab:orange")
        save(fig, "reward_margin.png")
    pb = summary.get("position_bias")
    if pb and pb.get("n"):
        fig, ax = plt.subplots(figsize=(4, 3.5))
        ax.bar(["left (A), raw"], [pb["left_share"]], yerr=_yerr([pb["left_share"]], [pb["ci_low"]], [pb["ci_high"]]),
               capsize=8)
        if pb.get("balanced_left_share") is not None:
            ax.bar(["left, balanced\nby system"], [pb["balanced_left_share"]], color="tab:green")
        ax.axhline(0.5, color="grey", linestyle="--")
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of decisive judgments")
        save(fig, "position_bias.png")
    entries = [("detector", h, h["ci_low"], h["ci_high"]) for h in summary.get("hq", [])]
    entries += [("physicians", h, h["headline"]["ci_low"], h["headline"]["ci_high"]) for h in summary.get("hq_physicians", [])]
    if entries:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        values = [h["hq"] for _, h, _, _ in entries]
        ax.bar(range(len(entries)), values, capsize=5,
               yerr=_yerr(values, [lo for *_, lo, _ in entries], [hi for *_, hi in entries]))
        ax.set_xticks(range(len(entries)), [f"{h['system']}\n{source}" for source, h, _, _ in entries])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("Helpfulness Quotient (HQ)")
        save(fig, "hq.png")
    return written


class PlotWorker:
    """A child process that imports matplotlib now and draws a summary's plots when sent one."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])  # this evaluation package, whatever the caller's path
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self.process: subprocess.Popen | None = None
        if not sys.executable:  # an embedded interpreter: no python to start
            return
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "evaluation.report_plots"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=env)
        except OSError:
            self.process = None

    def draw(self, summary: dict, out_dir: Path) -> list[str]:
        """The plots of `summary` in out_dir (file names, as write_plots returns them)."""
        names = self._from_child(summary, out_dir)
        return names if names is not None else write_plots(summary, out_dir)

    def _from_child(self, summary: dict, out_dir: Path) -> list[str] | None:
        process, self.process = self.process, None
        if process is None:
            return None
        try:
            with process.stdin:
                process.stdin.write(pickle.dumps((summary, str(out_dir)), protocol=pickle.HIGHEST_PROTOCOL))
            process.stdin = None  # closed: communicate() only reads
            out, _err = process.communicate()
        except (OSError, ValueError):
            process.kill()
            process.wait()
            return None
        if process.returncode != 0:
            return None  # drawn again in this process, which raises the error if there is one
        return json.loads(out)

    def close(self) -> None:
        """Stop a child that was never sent a summary (the report stopped before its plots)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _warm_up() -> None:
    """Load the backends and the fonts before the summary arrives (the first draw of text loads them)."""
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_title("warm-up")
    for form in FORMATS:
        fig.savefig(io.BytesIO(), format=form, dpi=20)
    plt.close(fig)


def _serve() -> int:
    import matplotlib

    matplotlib.use("Agg")
    _warm_up()
    sent = sys.stdin.buffer.read()
    if not sent:  # the parent stopped before its plots
        return 0
    summary, out_dir = pickle.loads(sent)  # from the report process that started this one
    sys.stdout.write(json.dumps(write_plots(summary, Path(out_dir))))
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve())
