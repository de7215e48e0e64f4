"""Reports stay inert when built from a hostile judgment CSV (issue 23): rater and system names
carrying Markdown links, images, HTML and bare URLs reach report.md/report.html as text; the
page has a CSP of its own, links only to its own anchors, and in Chromium requests nothing and
runs nothing, even when every link is clicked."""

from __future__ import annotations

import csv
import functools
import http.server
import re
import threading

import pytest
from typer.testing import CliRunner

from evaluation.contract import COLUMNS, StudyKind
from evaluation.inert import CSP_META, inert_html, md_text
from medalign.cli import app
from tests.evaluation.conftest import synthetic_study


def hostile_names(beacon: str) -> list[str]:
    return [
        f"[click me](javascript:fetch('{beacon}/js'))",
        f"![pixel]({beacon}/md-image.png)",
        f"<img src={beacon}/html-image.png onerror=window.__xss=1>",
        "<script>window.__xss=2</script>",
        f"[ref]\n\n[ref]: {beacon}/refdef",
        f"<{beacon}/autolink>",
        f"{beacon}/bare-url www.evil.example",
        "a|b` code `[x](javascript:window.__xss=3)",
    ]


def hostile_csv(path, beacon: str):
    names = hostile_names(beacon)
    rows = synthetic_study(0.6, items=40, raters=len(names), overlap=2, seed=1)
    for row in rows:
        row["rater"] = names[int(row["rater"][1:])]
        for side in ("system_a", "system_b", "preferred_system"):  # "sft" becomes a hostile system name
            if row[side] == "sft":
                row[side] = f"sft[x](javascript:window.__xss=4)<svg onload=window.__xss=5>{beacon}/sys"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS[StudyKind.pairwise])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_md_text_makes_no_link_image_or_tag():
    import markdown

    for name in hostile_names("http://127.0.0.1:9"):
        rendered = markdown.markdown(f"| a |\n|---|\n| {md_text(name)} |\n\n{md_text(name)}", extensions=["tables"])
        assert "<a" not in rendered and "<img" not in rendered and "<script" not in rendered, (name, rendered)
        assert rendered.count("<td>") == 1  # a '|' in a name does not open a cell


def test_inert_html_keeps_only_own_anchors_and_inline_images():
    page = ("<html><head><title>t</title></head><body><a href='#sec'>ok</a><a href='javascript:x()'>bad</a>"
            "<a href='http://evil/'>out</a><img src='http://evil/i.png'><img src='data:image/png;base64,AAAA'>"
            "<p onclick='x()' style='background:url(http://evil/)'>p</p><script>x()</script><iframe src=x></iframe>"
            "<meta http-equiv='refresh' content='0;url=http://evil/'></body></html>")
    out = inert_html(page)
    assert CSP_META in out and out.index(CSP_META) < out.index("<title>")
    assert re.findall(r'href="([^"]*)"', out) == ["#sec"]
    assert re.findall(r'src="([^"]*)"', out) == ["data:image/png;base64,AAAA"]
    for bad in ("onclick", "url(", "<script", "x()", "<iframe", "refresh"):
        assert bad not in out, bad


class _Beacon(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.slow
@pytest.mark.browser
def test_report_from_a_hostile_csv_requests_nothing_and_runs_nothing(tmp_path):
    from playwright.sync_api import sync_playwright

    from medalign.testing.browser import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Beacon))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    beacon = f"http://127.0.0.1:{server.server_address[1]}"
    _Beacon.hits = []
    try:
        judgments = hostile_csv(tmp_path / "judgments.csv", beacon)
        out = tmp_path / "report"
        result = CliRunner().invoke(app, ["report", "--judgments", str(judgments), "--out", str(out)])
        assert result.exit_code == 0, result.output
        page_text, md = (out / "report.html").read_text(), (out / "report.md").read_text()
        assert CSP_META in page_text
        assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page_text))
        assert all(s.startswith("data:image/") for s in re.findall(r'src="([^"]*)"', page_text))
        assert not re.search(r"(?<!\\)\]\(", md), "an unescaped ]( would make a Markdown link"
        assert "<img" not in md and "<script" not in md and "<svg" not in md and "http://" not in md
        assert "click me" in page_text and "pixel" in page_text  # the names are there, as text
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            page = browser.new_context().new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto((out / "report.html").as_uri())
            page.wait_for_load_state("load")
            for link in page.locator("a").all():
                link.click()
            page.wait_for_timeout(500)
            xss = page.evaluate("window.__xss")
            browser.close()
        # positive control: the beacon does count a request made to it
        import httpx

        assert _Beacon.hits == []
        httpx.get(beacon + "/control")
        assert _Beacon.hits == ["/control"]
    finally:
        server.shutdown()
    others = [r for r in requests if not r.startswith((out / "report.html").as_uri())]
    assert others == [] and xss is None, (others, xss)
