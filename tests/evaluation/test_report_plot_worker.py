"""The report's plots drawn by a child process (evaluation.report_plots.PlotWorker) are the files
drawn in the report's own process; without a child (cannot start, or fails) they are drawn in
process, where an error is raised as before; a report stopped early leaves no child behind."""

from __future__ import annotations

import sys

import pytest

from evaluation import report_plots
from evaluation.report import build_summary
from tests.evaluation.conftest import judgment


@pytest.fixture(scope="module")
def summary():
    rows = [judgment(f"q{i}", f"doc{i % 3}", "dpo" if i % 3 else "sft", left="sft" if i % 2 else "dpo",
                     evasive=(False, i % 4 == 0)) for i in range(30)]
    return build_summary(rows, bootstrap_rounds=50)


def test_the_child_draws_the_same_files(summary, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    expected = report_plots.write_plots(summary, here)
    worker = report_plots.PlotWorker()
    assert worker.process is not None
    assert worker.draw(summary, there) == expected
    for name in expected:
        if name.endswith(".png"):  # the same pixels (SVG ids and PDF font subset tags differ per process)
            assert (there / name).read_bytes() == (here / name).read_bytes(), name
        else:
            assert (there / name).read_bytes()[:5] in (b"<?xml", b"%PDF-"), name
    assert worker.process is None


def test_without_a_child_the_plots_are_drawn_in_process(summary, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    worker = report_plots.PlotWorker()
    assert worker.process is None
    assert "win_rate.png" in worker.draw(summary, tmp_path)
    assert (tmp_path / "win_rate.svg").is_file()


def test_a_failing_child_leaves_the_error_to_the_process(tmp_path):
    worker = report_plots.PlotWorker()
    broken = {"win_rate": {"intervals": {}}}  # not a summary: the child fails, then the same error here
    with pytest.raises(KeyError):
        worker.draw(broken, tmp_path)


def test_close_stops_a_child_that_was_never_sent_a_summary():
    worker = report_plots.PlotWorker()
    process = worker.process
    worker.close()
    assert worker.process is None and process.poll() is not None


def test_offered_plots_are_drawn_from_the_entries_sent(summary, tmp_path):
    """A plot offered while the statistics run is drawn from what was sent then, and not again from
    the whole summary: the sent entries are the final ones (build_summary offers each plot once its
    numbers are done). A different target in the offer shows which drawing is kept."""
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    expected = report_plots.write_plots(summary, here)
    worker = report_plots.PlotWorker()
    worker.offer("hq", summary, there)
    worker.offer("win_rate", {**summary, "target": "another system"}, there)
    assert worker.draw(summary, there) == expected
    assert (there / "hq.png").read_bytes() == (here / "hq.png").read_bytes()
    assert (there / "win_rate.png").read_bytes() != (here / "win_rate.png").read_bytes()
    assert (there / "position_bias.png").read_bytes() == (here / "position_bias.png").read_bytes()


def test_a_child_failing_on_an_offer_leaves_the_plots_to_the_process(summary, tmp_path):
    worker = report_plots.PlotWorker()
    worker.offer("win_rate", {"win_rate": {"intervals": {}}, "target": "dpo"}, tmp_path)  # fails in the child
    worker.process.wait()  # it exits on the error; later offers and the summary find it gone
    worker.offer("position_bias", summary, tmp_path)
    assert worker.process is None
    assert worker.draw(summary, tmp_path) == ["win_rate.png", "win_rate.svg", "win_rate.pdf", "position_bias.png",
                                              "position_bias.svg", "position_bias.pdf", "hq.png", "hq.svg", "hq.pdf"]
    assert (tmp_path / "win_rate.svg").is_file()


def test_the_report_offers_each_plot_once_its_numbers_are_final(summary):
    rows = [judgment(f"q{i}", f"doc{i % 3}", "dpo" if i % 3 else "sft", left="sft" if i % 2 else "dpo",
                     evasive=(False, i % 4 == 0)) for i in range(30)]
    offered = {}
    again = build_summary(rows, bootstrap_rounds=50, on_plot=lambda plot, entries: offered.setdefault(
        plot, {k: entries[k] for k in report_plots.PLOT_INPUTS[plot] if k in entries}))
    assert set(offered) == {"win_rate", "position_bias", "hq"}
    for plot, entries in offered.items():
        assert entries == {k: again[k] for k in report_plots.PLOT_INPUTS[plot] if k in again}, plot
