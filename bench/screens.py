"""Screenshots of the judging screen (and its Cannot judge form), the rating screen and the researcher
dashboard at 1440x900 and 390x844 (a phone), My judgments at 1440x900, and the time from Enter to
the next pair visible, median of 20, beside a baseline measured in the same browser and run: Enter
with no choice made, whose handler returns at once with a refusal in the notice line (the same
Gradio round trip without the database work).

    .venv/bin/python -m bench.screens --out /tmp/screens [--rounds 20]

Uses the bundled readable pairs (data/sample/readable_pairs.jsonl), a temporary SQLite
database, the real app under uvicorn and Debian Chromium. Screenshots are PNGs in --out.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
from pathlib import Path

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
ROUNDS = 20

# Enter pressed on the page (as the keyboard does), then polled each frame until the answer text
# changed (next pair) or a warning toast appeared (baseline). Returns milliseconds.
TIME_ENTER = """(expect) => new Promise((resolve, reject) => {
  // The texts themselves, not the components' innerText (that also shows Gradio's pending overlay).
  const answer = () => document.querySelector('#answer_a .prose')?.textContent;
  const notice = () => document.querySelector('#notice .notice')?.textContent;
  const before = answer(), noticeBefore = notice(), t0 = performance.now();
  document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
  const poll = () => {
    const done = expect === 'pair' ? answer() !== before : notice() !== noticeBefore;
    if (done) return resolve(performance.now() - t0);
    if (performance.now() - t0 > 20000) return reject(new Error('nothing changed after Enter'));
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})"""


def _studies(engine, workdir: Path) -> dict[str, str]:
    """A pairwise study of the readable pairs twice over (enough for 20 timed submits), the
    demo's rating study, users, and simulated judgments so the dashboard has something to show."""
    from app import storage
    from app.study_files import read_study_items
    from evaluation.rubric import load_rubric
    from medalign.demo.studies import DEMO_STUDIES, RATING_STUDY, READABLE_PAIRS

    lines = READABLE_PAIRS.read_text().splitlines()
    doubled = workdir / "pairs.jsonl"
    doubled.write_text("".join(
        json.dumps({**json.loads(line), "id": json.loads(line)["id"] + suffix}) + "\n"
        for suffix in ("", "-b") for line in lines))
    pairwise = next(s for s in DEMO_STUDIES if s.kind == "pairwise" and s.source == "readable")
    rating = next(s for s in DEMO_STUDIES if s.name == RATING_STUDY)
    logins = {name: secrets.token_urlsafe(12) for name in ("dr-screens", "dr-timing", "researcher", "sim-1", "sim-2")}
    with storage.transaction(engine) as session:
        storage.create_study(session, name="readable-examples", systems=pairwise.systems,
                             items=read_study_items(doubled, pairwise.systems), overlap=3, seed=0,
                             guidelines=pairwise.guidelines)
        storage.create_study(session, name=rating.name, kind="rating", systems=rating.systems,
                             items=read_study_items(READABLE_PAIRS, rating.systems), rubric=load_rubric(rating.rubric),
                             overlap=3, seed=0, guidelines=rating.guidelines)
        for name, password in logins.items():
            role = "researcher" if name == "researcher" else "physician"
            storage.add_user(session, name, role, password, simulated=name.startswith("sim-"))
    return logins


def _log_in(page, url: str, name: str, password: str, study: str = "") -> None:
    page.goto(url + "/login" + (f"?study={study}" if study else ""))
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#logout", timeout=30_000)


def _screens(browser, url: str, logins: dict, out: Path) -> list[Path]:
    shots = []
    for size, (width, height) in SIZES.items():
        for who, study, shot in (("dr-screens", "readable-examples", "judging"),
                                 ("dr-screens", "readable-grades", "rating"), ("researcher", "", "dashboard")):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            _log_in(page, url, who, logins[who])
            if study:
                page.goto(f"{url}/?study={study}")
                page.wait_for_selector("text=judged", timeout=30_000)
                if shot == "judging":
                    page.locator("#context_accordion button, #context_accordion .label-wrap").first.click()
                    page.locator("body").click(position={"x": 2, "y": 2})
                    page.keyboard.press("2")
            else:
                page.locator("#research_picker input").click()
                page.get_by_role("option", name="readable-examples").click()
                page.wait_for_selector("#research_timeline svg", timeout=30_000)
            page.wait_for_timeout(500)
            path = out / f"{shot}-{size}.png"
            page.screenshot(path=str(path))
            shots.append(path)
            if shot == "judging":  # the Cannot judge form open in the action bar (key C)
                page.keyboard.press("c")
                page.wait_for_selector("#skip_form", state="visible", timeout=10_000)
                page.wait_for_timeout(300)
                shots.append(out / f"cannot-judge-{size}.png")
                page.screenshot(path=str(shots[-1]))
            context.close()
    return shots


def _timings(browser, url: str, logins: dict, rounds: int, out: Path) -> dict[str, list[float]]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    _log_in(page, url, "dr-timing", logins["dr-timing"])
    page.goto(f"{url}/?study=readable-examples")
    page.wait_for_selector("text=0 of", timeout=30_000)
    times = {"enter_to_next_pair_ms": [], "baseline_noop_round_trip_ms": []}
    for _ in range(rounds):  # alternating: both see the same machine state
        times["baseline_noop_round_trip_ms"].append(page.evaluate(TIME_ENTER, "notice"))
        page.wait_for_timeout(1100)  # the notice's time stamp has a resolution of a second
        page.locator("body").click(position={"x": 2, "y": 2})
        page.keyboard.press("2")
        times["enter_to_next_pair_ms"].append(page.evaluate(TIME_ENTER, "pair"))
        page.wait_for_timeout(300)
    page.keyboard.press("h")  # My judgments, after the timed judgments
    page.wait_for_selector("#history_list input[type=radio]", timeout=30_000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "my-judgments-desktop.png"))
    context.close()
    return times


def start_server(engine):
    """The real app under uvicorn in a background thread on a free loopback port."""
    import socket
    import threading
    import time

    import uvicorn

    from app.server import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning",
                                           log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from app.db import open_database
    from medalign.demo.simulate import simulate_rater
    from medalign.testing.browser import CHROMIUM_ARGS, chromium_path

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_database(f"sqlite:///{Path(tmp) / 'screens.db'}")
        logins = _studies(engine, Path(tmp))
        server, thread, url = start_server(engine)
        for seed, name in enumerate(("sim-1", "sim-2")):
            for study in ("readable-examples", "readable-grades"):
                simulate_rater(url, name, logins[name], study, seed=seed)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            shots = _screens(browser, url, logins, args.out)
            times = _timings(browser, url, logins, args.rounds, args.out)
            browser.close()
        server.should_exit = True
        thread.join(timeout=10)
    summary = {name: {"median": round(statistics.median(v), 1), "min": round(min(v), 1), "max": round(max(v), 1),
                      "n": len(v)} for name, v in times.items()}
    summary["ratio_median"] = round(summary["enter_to_next_pair_ms"]["median"]
                                    / summary["baseline_noop_round_trip_ms"]["median"], 2)
    (args.out / "timings.json").write_text(json.dumps({"summary": summary, "raw": times}, indent=1))
    print(json.dumps(summary, indent=1))
    print("screenshots:", *map(str, shots), sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
