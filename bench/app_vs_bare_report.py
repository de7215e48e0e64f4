"""Tables, plot and the bench/RESULTS.md section of bench/app_vs_bare.py, from its phase rows."""

from __future__ import annotations

import os
import statistics
from datetime import UTC, datetime
from pathlib import Path

from medalign.testing.load import machine

TITLE = "## medalign against a bare Gradio app (bench/app_vs_bare.py, issue 26)"
METRICS = ("p50_ms", "p99_ms", "per_s", "server_cpu_ms", "harness_cpu_ms", "harness_share", "load1")


def _ms(value: float) -> str:
    if value != value:  # NaN: nothing measured
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def summarise(rows: list[dict], servers: list[str]) -> dict:
    """(database, transport, clients) -> {server: medians over rounds, errors, rounds} and, per
    app, the medians of its same-round ratios to the bare app."""
    groups: dict[tuple, dict[str, dict[int, dict]]] = {}
    for row in rows:
        if row["mode"] == "closed":
            key = (row["database"], row["transport"], row["clients"])
            groups.setdefault(key, {}).setdefault(row["server"], {})[row["round"]] = row
    summary = {}
    for key, by_server in groups.items():
        cell = {}
        for server, by_round in by_server.items():
            cell[server] = {m: statistics.median(r[m] for r in by_round.values()) for m in METRICS}
            cell[server] |= {"errors": sum(r["error_count"] for r in by_round.values()), "rounds": len(by_round)}
        bare = by_server.get("bare", {})
        for server in servers:
            same = [r for r in by_server.get(server, {}) if r in bare] if server != "bare" else []
            if same:
                cell[server]["ratios"] = tuple(
                    statistics.median(by_server[server][r][m] / bare[r][m] if bare[r][m] else float("nan")
                                      for r in same)
                    for m in ("p50_ms", "p99_ms", "per_s"))
        summary[key] = cell
    return summary


def tables(summary: dict, servers: list[str]) -> list[str]:
    apps = [s for s in servers if s != "bare"]
    head = ("| database | harness | clients | load (1 min) | " + " | ".join(f"{s} p50 / p99" for s in servers)
            + " | judgments/s " + " / ".join(servers) + " | "
            + " | ".join(f"{s}/bare p50, p99, throughput (same-round)" for s in apps)
            + " | client errors | server CPU ms per judgment | harness CPU ms per judgment (share of all cores) |")
    lines = [head, "|" + "---|" * (8 + len(servers) + len(apps))]
    for (database, transport, clients), cell in sorted(summary.items()):
        if any(s not in cell for s in servers):
            continue
        values = [cell[s] for s in servers]
        ratios = [", ".join(f"{x:.2f}x" for x in cell[s]["ratios"]) if "ratios" in cell[s] else "-" for s in apps]
        lines.append(
            f"| {database} | {transport} | {clients} | "
            + " / ".join(f"{v['load1']:.1f}" for v in values) + " | "
            + " | ".join(f"{_ms(v['p50_ms'])} / {_ms(v['p99_ms'])}" for v in values) + " | "
            + " / ".join(f"{v['per_s']:.1f}" for v in values) + " | " + " | ".join(ratios) + " | "
            + " / ".join(str(v["errors"]) for v in values) + " | "
            + " / ".join(f"{v['server_cpu_ms']:.1f}" for v in values) + " | "
            + " / ".join(f"{v['harness_cpu_ms']:.2f} ({v['harness_share']:.1%})" for v in values) + " |")
    return lines


def crossing(steps: list[dict]) -> str:
    """Offered judgments/s at which p99 passes 1 s, interpolated between the last step under
    1 s and the first over it."""
    over = next((i for i, r in enumerate(steps) if r["p99_ms"] > 1000), None)
    if over is None:
        return f"> {steps[-1]['rate']} (p99 {_ms(steps[-1]['p99_ms'])} at the last step)"
    if over == 0:
        return f"< {steps[0]['rate']}"
    low, high = steps[over - 1], steps[over]
    share = (1000 - low["p99_ms"]) / (high["p99_ms"] - low["p99_ms"])
    return f"{low['rate'] + share * (high['rate'] - low['rate']):.0f} (between {low['rate']} and {high['rate']})"


def capacity_rows(rows: list[dict], servers: list[str]) -> list[str]:
    opened = [r for r in rows if r["mode"] == "open"]
    if not opened:
        return []
    lines = ["| database | app | offered judgments/s at which p99 passes 1 s | steps: offered/s -> served/s, "
             "p50 / p99, server CPU ms per judgment, load (1 min) | client errors | harness CPU ms per judgment |",
             "|---|---|---|---|---|---|"]
    for database in sorted({r["database"] for r in opened}):
        for server in servers:
            steps = sorted((r for r in opened if r["database"] == database and r["server"] == server),
                           key=lambda r: r["rate"])
            if not steps:
                continue
            detail = "; ".join(f"{r['rate']} -> {r['per_s']:.1f}, {_ms(r['p50_ms'])} / {_ms(r['p99_ms'])}, "
                               f"{r['server_cpu_ms']:.0f} ms, {r['load1']:.1f}" for r in steps)
            harness = statistics.median(r["harness_cpu_ms"] for r in steps)
            lines.append(f"| {database} | {server} | {crossing(steps)} | {detail} | "
                         f"{sum(r['error_count'] for r in steps)} | {harness:.2f} |")
    return lines


def plot(summary: dict, servers: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(d, t) for d, t, _n in summary})
    fig, axes = plt.subplots(len(keys), 2, figsize=(10, 3.6 * len(keys)), squeeze=False)
    for row, (database, transport) in enumerate(keys):
        for server in servers:
            points = sorted((n, c[server]) for (d, t, n), c in summary.items()
                            if (d, t) == (database, transport) and server in c)
            counts = [n for n, _v in points]
            line = axes[row][0].plot(counts, [v["p50_ms"] for _n, v in points], marker="o", label=f"{server} p50")
            axes[row][0].plot(counts, [v["p99_ms"] for _n, v in points], marker="x", linestyle="--",
                              color=line[0].get_color(), label=f"{server} p99")
            axes[row][1].plot(counts, [v["per_s"] for _n, v in points], marker="o", label=server)
        title = f"{database} ({transport} harness)"
        axes[row][0].set(xscale="log", yscale="log", xlabel="clients", ylabel="submit latency (ms)", title=title)
        axes[row][1].set(xscale="log", xlabel="clients", ylabel="judgments/s", title=title)
        for ax in axes[row]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def replace_section(text: str, section: str) -> str:
    """`text` with the section under TITLE replaced by `section`; a '### ' sub-part about the
    submit profile in the old section (written by whoever works on storage) is kept after it."""
    start = text.find(TITLE)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(TITLE))
    end = len(text) if end < 0 else end + 1
    old = text[start:end]
    kept = [part for part in old.split("\n### ")[1:] if "profile" in part.split("\n", 1)[0].lower()]
    keep = "".join("\n### " + part.rstrip("\n") + "\n" for part in kept)
    return text[:start] + section.rstrip("\n") + "\n" + keep + "\n" + text[end:]


def write_results(path: Path, table_lines: list[str], rows: list[dict], args, commit: str, command: str) -> None:
    loads = [r["load1"] for r in rows]
    lines = [TITLE, "", f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; served commit: {commit}",
             f"- machine: {machine()}; 1-minute load average during the phases {min(loads, default=0):.1f}"
             f"-{max(loads, default=0):.1f}, end {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min)",
             f"- command: `{command}`",
             f"- harness pinned to one core: {'yes' if args.pin else 'no'}; rounds: {args.rounds}, order rotated "
             "per round; medians of rounds, ratios the median of same-round ratios", "", *table_lines, ""]
    path.write_text(replace_section(path.read_text(), "\n".join(lines)))
