"""The researcher tab (the dashboard): progress per physician and over time, time on task, gold
accuracy, live results with intervals and a chart, agreement so far, every judgment per item with
its rationale, a filter excluding simulated raters, auto-refresh, exports and the report command.
Researchers only: every handler checks the role on the server.

Live results: each comparison's win rate (evaluation.winrate, Wilson interval), Bradley-Terry
scores with three or more systems (evaluation.bradley_terry), and for rating studies the mean per
system and criterion with the rating report's headline interval (evaluation.ratings).
"""

from __future__ import annotations

import html
import shlex
from dataclasses import dataclass
from urllib.parse import quote

import gradio as gr

from app import storage
from app.models import Role
from app.ui.common import Context, caller, storage_errors
from app.ui.pairwise import PANEL as PAIRWISE_PANEL
from app.ui.rating import PANEL as RATING_PANEL
from app.ui.research_admin import AdminPanel, build_admin_panel
from evaluation.kinds import get_kind

PROGRESS_HEADERS = ["physician", "assigned", "judged", "gold judged", "gold accuracy", "median seconds per judgment"]
REFRESH_S = 30
RESULT_HEADERS = ["comparison or system", "measure", "estimate", "95% interval", "n", "notes"]
WILSON_ASSUMES = "Wilson interval: assumes independent judgments (no clustering by physician or item)"
BT_ROUNDS = 200  # a live view: fewer resamples than `medalign report`
RATING_ROUNDS = 500


@dataclass
class ResearcherTab:
    tab: gr.Tab
    picker: gr.Dropdown
    refresh: gr.Button
    summary: gr.Markdown
    progress: gr.Dataframe
    results: gr.Dataframe
    matrix: gr.Dataframe
    links: gr.HTML
    exclude_simulated: gr.Checkbox
    timer: gr.Timer
    timeline: gr.HTML
    chart: gr.HTML
    agreement: gr.Markdown
    items: gr.Dataframe
    admin: AdminPanel  # physicians, invitations, a new study (app/ui/research_admin.py)

    def inputs(self) -> list:
        return [self.picker, self.exclude_simulated]

    def outputs(self) -> list:
        return [self.summary, self.progress, self.results, self.matrix, self.links, self.timeline, self.chart,
                self.agreement, self.items]


def build_researcher_tab() -> ResearcherTab:
    from app.ui.dashboard import ITEM_HEADERS

    with gr.Tab("Researcher", id="research", visible=False) as tab:
        with gr.Row():
            picker = gr.Dropdown(label="Study", choices=[], interactive=True, allow_custom_value=True,
                                 elem_id="research_picker")
            exclude_simulated = gr.Checkbox(label="Exclude simulated raters", value=False, elem_id="exclude_simulated")
            refresh = gr.Button(f"Refresh (also every {REFRESH_S} s)", elem_id="research_refresh", size="sm")
        # Off until on_load turns it on for a researcher: a physician's page never polls this.
        timer = gr.Timer(REFRESH_S, active=False)
        summary = gr.Markdown(label="Summary", elem_id="research_summary")
        links = gr.HTML(label="Exports", elem_id="research_links")
        with gr.Row():
            timeline = gr.HTML(elem_id="research_timeline")
            chart = gr.HTML(elem_id="research_chart")
        progress = gr.Dataframe(headers=PROGRESS_HEADERS, label="Progress",
                                interactive=False, elem_id="research_progress")
        results = gr.Dataframe(headers=RESULT_HEADERS, label="Results", interactive=False,
                               elem_id="research_results")
        agreement = gr.Markdown(elem_id="research_agreement")
        matrix = gr.Dataframe(label="Win matrix (share of direct comparisons the row system won; ties count half)",
                              interactive=False, elem_id="research_matrix")
        items = gr.Dataframe(headers=ITEM_HEADERS, label="Every judgment by item, with rationales", interactive=False,
                             wrap=True, elem_id="research_items", max_height=600)
        admin = build_admin_panel()
    return ResearcherTab(tab, picker, refresh, summary, progress, results, matrix, links, exclude_simulated, timer,
                         timeline, chart, agreement, items, admin)


def _interval(low, high) -> str:
    return "-" if low is None or high is None else f"{low:.3f} to {high:.3f}"


def win_matrix_table(rows: list[dict]) -> dict:
    """evaluation.bradley_terry.win_matrix as a table: row system against column system."""
    from evaluation.bradley_terry import win_matrix

    matrix = win_matrix(rows) if rows else {}
    systems = list(matrix)
    return {"headers": ["row beats column", *systems],
            "data": [[x, *("-" if matrix[x][y] is None else round(matrix[x][y], 3) for y in systems)] for x in systems]}


def pairwise_results(rows: list[dict], comparisons: list[str], plan: dict | None = None) -> list[list]:
    """One win-rate row per comparison "x:y" (the rate of y against x): the report's headline
    interval, marked interim until the planned size (evaluation.winrate.live_headline); then
    Bradley-Terry scores."""
    from evaluation.bradley_terry import bradley_terry
    from evaluation.winrate import live_headline

    out = []
    for comparison in comparisons:
        first, second = comparison.split(":", 1)
        mine = [r for r in rows if {r["system_a"], r["system_b"]} == {first, second}]
        if not mine:
            out.append([comparison, f"win rate of {second}", "-", "-", 0, "no judgments yet"])
            continue
        live = live_headline(mine, first, second, plan)
        stage = "final" if live["final"] else "INTERIM"
        out.append([comparison, f"win rate of {second} over {first} ({live['definition']}; {stage})",
                    "-" if live["estimate"] is None else round(live["estimate"], 3),
                    _interval(live["ci_low"], live["ci_high"]), live["n"], f"{live['counts']}; {live['notes']}"])
    systems = {s for r in rows for s in (r["system_a"], r["system_b"])}
    if len(systems) >= 3:
        fitted = bradley_terry(rows, rounds=BT_ROUNDS)
        for system, score in sorted(fitted["scores"].items(), key=lambda kv: -kv[1]):
            out.append([system, "Bradley-Terry log-strength (mean 0; ties half a win)", round(score, 3),
                        _interval(*fitted["intervals"][system]), len(rows),
                        f"percentile bootstrap over judgments ({BT_ROUNDS} rounds): assumes independent judgments"])
    return out


def rating_results(rows: list[dict], rubric: dict) -> list[list]:
    """Per system and criterion: the mean with the rating report's headline interval (what it
    assumes in the notes), or the counts per option for a choice criterion (evaluation.ratings)."""
    from evaluation.ratings import summarise_ratings

    summary = summarise_ratings(rows, rubric=rubric, rounds=RATING_ROUNDS)
    assumes = summary["interval"]["assumes"]
    out = []
    for criterion_id, entry in summary["criteria"].items():
        for system, stats in entry["per_system"].items():
            counts = ", ".join(f"{value} {n}" for value, n in stats["distribution"]["counts"].items())
            if entry["scale"] == "choice":
                out.append([system, f"{criterion_id}: counts", "-", "-", stats["n"], counts])
                continue
            interval = stats["interval"]
            direction = "" if entry["higher_is_better"] is not False else " (lower is better)"
            out.append([system, f"{criterion_id}: mean{direction}", round(stats["mean"], 3),
                        _interval(interval["ci_low"], interval["ci_high"]), stats["n"],
                        f"{interval['method']}: {interval.get('note') or assumes}; counts {counts}"])
    return out


def with_every_member(progress: list[dict], members) -> list[dict]:
    """Progress rows plus one for each member who has not started (nothing assigned yet)."""
    started = {row["physician"] for row in progress}
    return progress + [{"physician": m.name, "simulated": m.simulated, "assigned": 0, "judged": 0, "gold_judged": 0,
                        "gold_accuracy": None} for m in members if m.name not in started]


def _progress_table(rows: list[dict], seconds: dict[str, float]) -> list[list]:
    return [[r["physician"] + (" (simulated)" if r["simulated"] else ""), r["assigned"], r["judged"], r["gold_judged"],
             "-" if r["gold_accuracy"] is None else round(r["gold_accuracy"], 3),
             "-" if r["physician"] not in seconds else round(seconds[r["physician"]], 1)] for r in rows]


def _links(study_name: str, panel: str) -> str:
    """The downloads: exports (DPO pairs for pairwise studies only) and the report, built on
    demand by the server (`medalign report`), researchers only."""
    quoted = quote(study_name, safe="")
    base = html.escape("/export/" + quoted)
    files = [("judgments.csv", "Judgments (CSV)"), ("judgments.jsonl", "Judgments (JSONL)")]
    if panel == PAIRWISE_PANEL:
        files.append(("dpo_pairs.jsonl", "DPO pairs (JSONL)"))
    report = html.escape(f"/report/{quoted}/report.html")
    return (" | ".join(f'<a href="{base}/{name}" download>{label}</a>' for name, label in files) +
            f'<br><a href="{report}" download id="report_link">Download the full report (one self-contained HTML '
            "file with its figures; built now, this can take a minute)</a>. On the command line: "
            f"<code>{html.escape(_report_command(study_name))}</code>")


def _report_command(study_name: str) -> str:
    """A command to paste into a shell: every name quoted for it (a study named `'; rm -rf ~; '`
    stays one argument)."""
    return f"medalign report --study {shlex.quote(study_name)} --out {shlex.quote('report-' + study_name)}"


def _view_refused(ctx: Context, message: str, exc: Exception | None = None) -> dict:
    tab = ctx.ui.researcher
    return {**dict.fromkeys(tab.outputs(), gr.skip()), tab.summary: html.escape(message)}


def pairwise_chart(results: list[list]) -> str:
    """Win rates only (Bradley-Terry log-strengths are another quantity: they stay in the table)."""
    from app.ui.dashboard import interval_svg

    rates = [[row[0], *row[1:]] for row in results if str(row[1]).startswith("win rate")]
    return interval_svg(rates, "Win rate of the second system of each comparison, 95% headline interval",
                        "win rate (share of judgments won; dashed line: 0.5, no difference)", scale=(0.0, 1.0),
                        reference=0.5)


def rating_chart(results: list[list], rubric: dict) -> str:
    """One chart per graded criterion: its mean per system on that criterion's own scale."""
    from app.ui.dashboard import interval_svg

    charts = []
    for criterion in rubric.get("criteria", []):
        rows = [row for row in results if str(row[1]).startswith(f"{criterion['id']}: mean")]
        values = [float(v) for v in (criterion.get("values") or [])] if isinstance(criterion.get("values"), list) else []
        scale = (min(values), max(values)) if len(values) >= 2 else None
        direction = "higher is better" if criterion.get("higher_is_better", True) is not False else "lower is better"
        charts.append(interval_svg(rows, f"{criterion.get('question', criterion['id'])}: mean grade per system",
                                   f"mean grade ({direction}), 95% interval", scale=scale))
    return "".join(charts)


def _pairwise_view(judgments: list[dict], settings: dict) -> tuple[list, list, str, str]:
    decided = [j for j in judgments if not j["is_gold"]]
    results = pairwise_results(decided, settings["comparisons"], settings.get("analysis_plan"))
    matrix = win_matrix_table(decided) if len(settings["systems"]) >= 3 else []
    what = f"pairwise study of {', '.join(settings['systems'])} ({len(settings['comparisons'])} comparisons)"
    return results, matrix, what, ("Win rate with the report's 95% headline interval, interim until the planned "
                                   "size (dashed: 0.5)")


def _rating_view(judgments: list[dict], settings: dict) -> tuple[list, list, str, str]:
    results = rating_results(judgments, settings["rubric"])
    what = f"rating study of {', '.join(settings['systems'])} on the rubric {settings['rubric']['name']}"
    return results, [], what, "Mean grade per system and criterion with 95% interval"


# The dashboard's results (table, win matrix, summary line, chart title) by the panel a study's kind names.
KIND_VIEWS = {PAIRWISE_PANEL: _pairwise_view, RATING_PANEL: _rating_view}


@storage_errors(refuse=_view_refused)
def researcher_view(study_name: str | None, exclude_simulated: bool, request: gr.Request, *, ctx: Context):
    from app.ui import dashboard

    tab = ctx.ui.researcher
    with storage.transaction(ctx.engine) as session:
        caller(session, request, None, Role.researcher)
        if not study_name:
            return {tab.summary: "Choose a study.", tab.progress: [], tab.results: [], tab.matrix: [], tab.links: "",
                    tab.timeline: "", tab.chart: "", tab.agreement: "", tab.items: []}
        study = storage.get_study(session, study_name)
        settings = storage.study_settings(session, study)
        progress = with_every_member(storage.study_progress(session, study), storage.study_members(session, study))
        judgments = storage.export_judgments(session, study)
    judgments, progress = dashboard.without_simulated(judgments, progress, bool(exclude_simulated))
    panel = get_kind(settings["kind"]).panel
    results, matrix, what, chart_title = KIND_VIEWS[panel](judgments, settings)
    shown = "simulated raters excluded" if exclude_simulated else "simulated raters included"
    summary = html.escape(
        f"{what}: {settings['judgments']} judgments of {settings['target']} planned ({settings['items']} items, "
        f"{settings['units']} units x overlap {settings['overlap']}; {settings['gold_items']} gold items); {shown}."
    )
    return {tab.summary: summary, tab.progress: _progress_table(progress, dashboard.time_on_task(judgments)),
            tab.results: results, tab.links: _links(study.name, panel),
            tab.timeline: dashboard.timeline_svg(judgments, settings["target"]),
            tab.chart: (pairwise_chart(results) if panel == PAIRWISE_PANEL
                        else rating_chart(results, settings["rubric"])),
            tab.matrix: matrix,
            tab.agreement: dashboard.agreement_text(judgments, panel),
            tab.items: dashboard.item_table(judgments, panel)}


def research_choices(request: gr.Request, *, ctx: Context):
    """The study list, for researchers only (anyone else gets an empty list, not an error)."""
    with storage.transaction(ctx.engine) as session:
        user = storage.get_user(session, getattr(request, "username", None) or "")
        if user is None or user.role is not Role.researcher or user.disabled:
            return gr.update(choices=[])
        return gr.update(choices=[s.name for s in storage.list_studies(session)])
