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


#: The plots in the order the report lists them; each drawn from the summary entries PLOT_INPUTS names.
PLOT_ORDER = ("win_rate", "reward_margin", "position_bias", "hq")
PLOT_INPUTS = {"win_rate": ("win_rate", "target"), "reward_margin": ("run",), "position_bias": ("position_bias",),
               "hq": ("hq", "hq_physicians")}


def write_plots(summary: dict, out_dir: Path) -> list[str]:
    return [name for plot in PLOT_ORDER for name in draw_plot(plot, summary, out_dir)]


def draw_plot(plot: str, summary: dict, out_dir: Path) -> list[str]:
    """One plot's files (PNG, SVG, PDF) in out_dir from the summary's entries; none when it has no data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = _FIGURES[plot](plt, summary)
    if fig is None:
        return []
    fig.tight_layout()
    written = []
    for form in FORMATS:
        # SVG and PDF without a creation date: the same report gives the same files.
        metadata = {"Date": None} if form in ("svg", "pdf") else None
        fig.savefig(Path(out_dir) / f"{plot}.{form}", dpi=PNG_DPI, metadata=metadata)
        written.append(f"{plot}.{form}")
    plt.close(fig)
    return written


def _win_rate_figure(plt, summary: dict):
    if not summary.get("win_rate"):
        return None
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    _win_rate(ax, summary)
    return fig


def _reward_margin_figure(plt, summary: dict):
    curve = (summary.get("run") or {}).get("curve")
    if not curve:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([c["step"] for c in curve], [c["margin"] for c in curve], marker="o", markersize=3, label="reward margin")
    ax.set_xlabel("training step")
    ax.set_ylabel(MARGIN_LABEL)
    if any(c.get("accuracy") is not None for c in curve):
        twin = ax.twinx()
        twin.plot([c["step"] for c in curve], [c.get("accuracy") for c in curve], color="tab:orange", alpha=0.6)
        twin.set_ylabel(ACCURACY_LABEL, color="tab:orange")
    return fig


def _position_bias_figure(plt, summary: dict):
    pb = summary.get("position_bias")
    if not (pb and pb.get("n")):
        return None
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.bar(["left (A), raw"], [pb["left_share"]], yerr=_yerr([pb["left_share"]], [pb["ci_low"]], [pb["ci_high"]]),
           capsize=8)
    if pb.get("balanced_left_share") is not None:
        ax.bar(["left, balanced\nby system"], [pb["balanced_left_share"]], color="tab:green")
    ax.axhline(0.5, color="grey", linestyle="--")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of decisive judgments")
    return fig


def _hq_figure(plt, summary: dict):
    entries = [("detector", h, h["ci_low"], h["ci_high"]) for h in summary.get("hq", [])]
    entries += [("physicians", h, h["headline"]["ci_low"], h["headline"]["ci_high"]) for h in summary.get("hq_physicians", [])]
    if not entries:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    values = [h["hq"] for _, h, _, _ in entries]
    ax.bar(range(len(entries)), values, capsize=5,
           yerr=_yerr(values, [lo for *_, lo, _ in entries], [hi for *_, hi in entries]))
    ax.set_xticks(range(len(entries)), [f"{h['system']}\n{source}" for source, h, _, _ in entries])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("Helpfulness Quotient (HQ)")
    return fig


_FIGURES = {"win_rate": _win_rate_figure, "reward_margin": _reward_margin_figure,
            "position_bias": _position_bias_figure, "hq": _hq_figure}


class PlotWorker:
    """A child process that imports matplotlib now and draws each plot when its numbers are sent:
    `offer` sends one plot's final summary entries as soon as the report has them (the child draws
    it while the statistics go on), `draw` the whole summary for the plots not drawn yet."""

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

    def offer(self, plot: str, entries: dict, out_dir: Path) -> None:
        """Draw `plot` now from `entries`, the summary's final values of PLOT_INPUTS[plot]. A child
        that cannot take it is stopped: draw() then draws every plot in this process."""
        self._send(("plot", plot, {k: entries[k] for k in PLOT_INPUTS[plot] if k in entries}, str(out_dir)))

    def draw(self, summary: dict, out_dir: Path) -> list[str]:
        """The plots of `summary` in out_dir (file names, as write_plots returns them)."""
        names = self._from_child(summary, out_dir)
        return names if names is not None else write_plots(summary, out_dir)

    def _send(self, message: tuple) -> None:
        if self.process is None:
            return
        try:
            self.process.stdin.write(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
            self.process.stdin.flush()
        except (OSError, ValueError):  # the child is gone (it failed): no more plots there
            self.close()

    def _from_child(self, summary: dict, out_dir: Path) -> list[str] | None:
        self._send(("rest", None, summary, str(out_dir)))
        process, self.process = self.process, None
        if process is None:
            return None
        try:
            process.stdin.close()
            process.stdin = None  # closed: communicate() only reads
            out, _err = process.communicate()
        except (OSError, ValueError):
            process.kill()
            process.wait()
            return None
        if process.returncode != 0:
            return None  # drawn again in this process, which raises the error if there is one
        drawn = json.loads(out)
        return [name for plot in PLOT_ORDER for name in drawn.get(plot, [])]

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
    """Draw each plot as its numbers arrive (("plot", name, entries, folder)), then the plots not
    drawn yet from the whole summary (("rest", None, summary, folder)); print what was written."""
    import matplotlib

    matplotlib.use("Agg")
    _warm_up()
    drawn: dict[str, list[str]] = {}
    while True:
        try:
            kind, plot, entries, out_dir = pickle.load(sys.stdin.buffer)  # from the report process that started this
        except EOFError:  # the parent stopped before its plots
            return 0
        if kind == "plot":
            drawn[plot] = draw_plot(plot, entries, Path(out_dir))
            continue
        for plot in PLOT_ORDER:
            if plot not in drawn:
                drawn[plot] = draw_plot(plot, entries, Path(out_dir))
        sys.stdout.write(json.dumps(drawn))
        return 0


if __name__ == "__main__":
    status = _serve()  # an error raises here: a traceback and a failed exit, as any script
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # without the interpreter's teardown (~0.1 s with matplotlib loaded), which the report waits for
