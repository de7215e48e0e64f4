"""Human-like judging sessions in headless Chromium against a real `medalign serve` process.

Written from the README ("Physician judging", "Proof: no judgment lost, nothing leaks") and
SECURITY.md alone, without reading the app's code: a physician's stray clicks, double clicks,
reloads, phone resizes, keyboard wandering, logouts, idle time-outs and second tabs. After each
session the study is exported with `medalign export` (the researcher's own command) and every
judgment the screen acknowledged must be there exactly once, with the values entered.
What each session does and found: tests/app/HUMAN_SESSIONS.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from medalign.testing.browser import browser_page, chromium_path, log_in
from medalign.testing.load import REPO, ServerProcess, free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PASSWORD = "ward-round-password-7"
STUDY = "ward-pilot"
ANSWERS = REPO / "data" / "sample" / "readable_pairs.jsonl"  # 12 items, systems sft and dpo
ITEMS = 12
PHYSICIANS = ["dr_clicks", "dr_keys", "dr_reload", "dr_tabs", "dr_phone", "dr_logout", "dr_idle", "dr_revise", "dr_source",
              "dr_ward_a", "dr_ward_b"]
# what blinding forbids on screen: the study's system names and the model names of the recipe
LEAK = re.compile(r"\b(sft|dpo|biomistral|mistral|llama|system_a|system_b|preferred_system)\b", re.I)
SAVED = re.compile(r"Saved \((\d+) of (\d+)\)")
JUDGED = re.compile(r"(\d+) of (\d+) judged")


def medalign(db_url: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "medalign", *args, "--db", db_url], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "MEDALIGN_PW": PASSWORD}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class IdleServer(ServerProcess):
    name = "idle server"

    def argv(self) -> list[str]:
        return [*super().argv(), "--idle-timeout", "0.25"]  # 15 s: a loaded machine takes seconds to paint


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    chromium_path()  # skips, with its reason, when Debian chromium is absent
    work = tmp_path_factory.mktemp("human")
    db_url = f"sqlite:///{work / 'judging.db'}"
    guidelines = work / "guidelines.md"
    guidelines.write_text("# How to judge\n\nPrefer the answer a colleague could act on.\n")
    for name in PHYSICIANS:
        medalign(db_url, "users", "add", name, "--role", "physician", "--password-env", "MEDALIGN_PW")
    medalign(db_url, "study", "create", "--name", STUDY, "--answers", str(ANSWERS), "--systems", "sft,dpo",
             "--overlap", str(len(PHYSICIANS)), "--guidelines", str(guidelines), "--seed", "3")
    server = ServerProcess(db_url, free_port(), work / "server.log")
    server.start()
    yield {"url": server.url, "db": db_url, "work": work}
    server.stop()


@pytest.fixture(scope="module")
def idle_server(app):
    """A second server with a 15-second idle time-out on the same database."""
    server = IdleServer(app["db"], free_port(), app["work"] / "idle-server.log")
    server.start()
    yield server
    server.stop()


def exported(app, name: str) -> list[dict]:
    """The rows `medalign export` writes for one physician (JSONL keeps the exact text)."""
    out = app["work"] / f"export-{name}-{len(list(app['work'].glob('export-*')))}.jsonl"
    medalign(app["db"], "export", "--study", STUDY, "--format", "jsonl", "--out", str(out))
    return [row for row in map(json.loads, out.read_text().splitlines()) if row["rater"] == name]


class Watch:
    """Page errors and console errors of one page; 401s are expected only after a session ends."""

    # What a page logs when the test itself navigates away while Gradio's event stream is still
    # open (the browser aborts the stream): the navigation's doing, not the app's.
    NAVIGATION_ABORTS = ("AbortError: signal is aborted", "Connection errored out")

    def __init__(self, page, allow_401: bool = False):
        self.problems: list[str] = []
        self.allow_401 = allow_401
        self.navigating = False
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def reload(self, page) -> None:
        """page.reload(), with the stream aborts of the page being left not counted as problems."""
        self.navigating = True
        try:
            page.reload()
        finally:
            self.navigating = False

    def _console(self, message) -> None:
        if message.type != "error":
            return
        if self.allow_401 and "401" in message.text:
            return
        if self.navigating and any(abort in message.text for abort in self.NAVIGATION_ABORTS):
            return
        self.problems.append(f"console: {message.text}")


VISIBLE_TEXT = """() => [document.body.innerText,
    ...Array.from(document.querySelectorAll('input, textarea, select')).map(e => e.value),
    ...Array.from(document.querySelectorAll('[aria-label], [title], [placeholder], [alt]')).map(
        e => [e.getAttribute('aria-label'), e.getAttribute('title'), e.getAttribute('placeholder'), e.getAttribute('alt')].join(' ')),
    document.title].join('\\n')"""


def screen_is_sound(page, watch: Watch) -> None:
    """Blinded (nothing the physician can see or hear names a system or model), no component in an
    error state, no script error so far."""
    seen = page.evaluate(VISIBLE_TEXT)
    leak = LEAK.search(seen)
    assert not leak, f"system or model name on screen: {seen[max(0, leak.start() - 80):leak.end() + 80]!r}"
    text = page.inner_text("body")
    assert not re.search(r"\bError\b", text), text
    assert page.locator(".toast-body.error, [data-testid='toast-body']").count() == 0, text
    assert watch.problems == []


def page_source_is_blind(page) -> None:
    """The page as served (Gradio embeds its whole config in it) names no system either."""
    html = page.content()
    leak = LEAK.search(html)
    assert not leak, f"system name in the page source: {html[max(0, leak.start() - 200):leak.end() + 80]!r}"


def bar(page) -> str:
    return page.inner_text("#action_bar")


def judged_count(page) -> int:
    match = JUDGED.search(bar(page))
    assert match, bar(page)
    assert int(match.group(2)) == ITEMS
    return int(match.group(1))


def wait_ready(page) -> None:
    """The pair and the progress are on screen (the first paint after a login says "Choose a study.")."""
    page.wait_for_function("() => /\\d+ of \\d+ judged/.test(document.querySelector('#action_bar')?.innerText || '')"
                           " && document.querySelector('#question .prose')?.innerText.trim()", timeout=30_000)


def sign_in(page, url: str, name: str) -> None:
    log_in(page, url, name, PASSWORD)
    wait_ready(page)


def wait_saved(page, n: int) -> None:
    page.wait_for_function("(n) => document.querySelector('#action_bar').innerText.includes(`Saved (${n} of`)", arg=n,
                           timeout=30_000)


def wait_question_changes(page, old: str) -> str:
    page.wait_for_function("(old) => { const q = document.querySelector('#question .prose');"
                           " return q && q.innerText.trim() && q.innerText.trim() !== old; }", arg=old, timeout=30_000)
    return question(page)


def question(page) -> str:
    return page.inner_text("#question .prose").strip()


def shown(page) -> dict:
    """What the physician sees and has entered on the current pair."""
    return page.evaluate("""() => ({
        question: document.querySelector('#question .prose').innerText.trim(),
        answer_a: document.querySelector('#answer_a .prose').innerText.trim(),
        answer_b: document.querySelector('#answer_b .prose').innerText.trim(),
        choice: document.querySelector('#choice input:checked')?.value ?? null,
        evasive_a: document.querySelector('#evasive_a input').checked,
        evasive_b: document.querySelector('#evasive_b input').checked,
        rationale: document.querySelector('#rationale textarea').value,
    })""")


def focus_page(page) -> None:
    """Click on the question's label: neutral ground, not a text box."""
    page.locator("#question_label").click()


def assert_stored(rows: list[dict], entered: list[dict]) -> None:
    """Every acknowledged judgment once, on the pair shown, with the values entered."""
    by_question = {}
    for row in rows:
        by_question.setdefault(row["question"], []).append(row)
    assert len(rows) == len(entered), [r["question"] for r in rows]
    for want in entered:
        got = by_question.get(want["question"], [])
        assert len(got) == 1, f"{want['question']!r} stored {len(got)} times"
        row = got[0]
        assert (row["answer_a"].strip(), row["answer_b"].strip()) == (want["answer_a"], want["answer_b"])
        assert (row["choice"], row["evasive_a"], row["evasive_b"]) == (want["choice"], want["evasive_a"], want["evasive_b"])
        assert row["rationale"] == want["rationale"]


def test_stray_clicks_slow_typing_and_double_click_submit(app):
    """Clicks everywhere, accordions opened and closed, a slowly typed rationale full of digits and
    key letters, then a double click on Submit and a burst of Enter presses."""
    with browser_page() as page:
        watch = Watch(page)
        sign_in(page, app["url"], "dr_clicks")
        screen_is_sound(page, watch)
        assert judged_count(page) == 0
        page.mouse.click(5, 300)  # the margin beside the panes
        page.locator("#answer_a").click()
        page.get_by_role("button", name=re.compile("^Guidelines")).click()
        page.get_by_text("Prefer the answer a colleague could act on.").wait_for()
        page.get_by_role("button", name=re.compile("^Abstract context")).click()
        page.mouse.wheel(0, 600)
        page.locator("#answer_b").click(click_count=3)  # a physician selecting text to re-read it
        page.get_by_role("button", name=re.compile("^Abstract context")).click()
        page.get_by_label("B better").click()
        page.locator("#evasive_a input").click()
        page.locator("#rationale textarea").click()
        page.keyboard.type("B gives 18% vs 39%: 1 2 3 4, e r u", delay=40)
        entered = shown(page)
        assert entered["choice"] == "b" and entered["evasive_a"] and not entered["evasive_b"], entered
        assert entered["rationale"] == "B gives 18% vs 39%: 1 2 3 4, e r u"
        first = entered["question"]
        page.mouse.click(5, 300)
        page.locator("#submit").dblclick()
        wait_saved(page, 1)
        second = wait_question_changes(page, first)
        fresh = shown(page)
        assert fresh["choice"] is None and not fresh["evasive_a"] and fresh["rationale"] == "", fresh
        assert judged_count(page) == 1
        screen_is_sound(page, watch)

        focus_page(page)
        page.keyboard.press("4")
        entered2 = shown(page)
        for _ in range(4):
            page.keyboard.press("Enter")
        wait_saved(page, 2)
        wait_question_changes(page, second)
        page.wait_for_timeout(1500)  # any stray Enter still in flight lands now
        assert judged_count(page) == 2
        assert shown(page)["choice"] is None
        screen_is_sound(page, watch)
    assert_stored(exported(app, "dr_clicks"), [entered, entered2])


def test_keyboard_wandering_tab_shift_tab_and_enter_everywhere(app):
    """Tab and Shift+Tab through the whole page with digits pressed on the way; Enter on the
    context header, an evasive checkbox and the radio group each submit the current choice."""
    with browser_page() as page:
        watch = Watch(page)
        sign_in(page, app["url"], "dr_keys")
        focus_page(page)
        seen_focus = []
        for key in ["Tab"] * 14 + ["Shift+Tab"] * 5:
            page.keyboard.press(key)
            seen_focus.append(page.evaluate("document.activeElement.outerHTML.slice(0, 80)"))
        assert len(set(seen_focus)) >= 5, seen_focus  # the focus travels; no trap
        assert shown(page)["rationale"] == "" and shown(page)["choice"] is None
        focus_page(page)
        entered = []
        targets = [("context header", lambda: page.get_by_role("button", name=re.compile("^Abstract context")).focus()),
                   ("evasive checkbox", lambda: page.locator("#evasive_b input").focus()),
                   ("radio group", lambda: page.locator("#choice input:checked").focus())]
        for n, (where, put_focus) in enumerate(targets, start=1):
            before = question(page)
            focus_page(page)
            page.keyboard.press("3")
            page.keyboard.press("r")  # Answer B evasive
            put_focus()
            values = shown(page)
            assert values["choice"] == "tie" and values["evasive_b"], (where, values)
            entered.append(values)
            page.keyboard.press("Enter")
            wait_saved(page, n)
            wait_question_changes(page, before)
            assert shown(page)["choice"] is None, where
            active = page.evaluate("document.activeElement.tagName")
            assert active not in ("TEXTAREA", "INPUT"), f"after Enter on the {where}, focus left in {active}"
        assert judged_count(page) == 3
        screen_is_sound(page, watch)
    assert_stored(exported(app, "dr_keys"), entered)


def test_reload_and_back_mid_judgment(app):
    """Reload with a choice and rationale entered (nothing stored, same pair back), then Back and
    Forward after a submit: the judged pair is not shown again and nothing is stored twice."""
    with browser_page() as page:
        watch = Watch(page)
        sign_in(page, app["url"], "dr_reload")
        first = question(page)
        focus_page(page)
        page.keyboard.press("1")
        page.locator("#rationale textarea").fill("half-written thought")
        watch.reload(page)
        wait_ready(page)
        page.wait_for_function("(q) => document.querySelector('#question .prose').innerText.trim() === q", arg=first, timeout=30_000)
        assert exported(app, "dr_reload") == []
        assert judged_count(page) == 0
        focus_page(page)
        page.keyboard.press("2")
        entered = shown(page)
        page.locator("#submit").click()
        wait_saved(page, 1)
        second = wait_question_changes(page, first)
        page.go_back()
        page.wait_for_load_state()
        page.go_forward()
        page.wait_for_load_state()
        if page.locator("#logout").count() == 0:  # Back may leave the app: open it again
            page.goto(app["url"])
        wait_ready(page)
        page.wait_for_function("(q) => document.querySelector('#question .prose').innerText.trim() === q", arg=second, timeout=30_000)
        assert judged_count(page) == 1
        screen_is_sound(page, watch)
    assert_stored(exported(app, "dr_reload"), [entered])


def test_two_browser_tabs_of_one_physician(app):
    """Two tabs on the same pair: the first submits A; the second's identical A stores nothing new,
    its different B is refused with its values kept on screen; a reload moves it on."""
    with browser_page() as first_tab:
        second_tab = first_tab.context.new_page()
        watches = [Watch(first_tab), Watch(second_tab)]
        sign_in(first_tab, app["url"], "dr_tabs")
        second_tab.goto(app["url"])
        wait_ready(second_tab)
        pair = question(first_tab)
        second_tab.wait_for_function("(q) => document.querySelector('#question .prose').innerText.trim() === q", arg=pair)
        focus_page(first_tab)
        first_tab.keyboard.press("1")
        entered = shown(first_tab)
        first_tab.keyboard.press("Enter")
        wait_saved(first_tab, 1)
        next_pair = wait_question_changes(first_tab, pair)

        second_tab.bring_to_front()
        focus_page(second_tab)
        second_tab.keyboard.press("2")
        second_tab.locator("#rationale textarea").fill("I think B, from the other tab")
        second_tab.locator("#submit").click()
        second_tab.wait_for_function("() => document.querySelector('#notice').innerText.trim().length > 0", timeout=30_000)
        kept = shown(second_tab)
        assert kept["question"] == pair and kept["choice"] == "b"
        assert kept["rationale"] == "I think B, from the other tab"
        assert "Saved" not in bar(second_tab)
        watches[1].reload(second_tab)
        second_tab.wait_for_function("(q) => document.querySelector('#question .prose')?.innerText.trim() === q", arg=next_pair,
                                     timeout=30_000)
        assert judged_count(second_tab) == 1
        for page, watch in zip((first_tab, second_tab), watches, strict=True):
            screen_is_sound(page, watch)
    assert_stored(exported(app, "dr_tabs"), [entered])


def test_phone_resize_app_tabs_and_another_browser_tab_mid_study(app):
    """Values entered at 1280x900, then the window becomes a phone (390x844), the app's tabs are
    visited, another browser tab opens the app and is closed; everything entered is still there
    and the bar's Submit is reachable, big enough to tap, and stores it."""
    with browser_page() as page:
        watch = Watch(page)
        sign_in(page, app["url"], "dr_phone")
        page.get_by_label("A better").click()
        page.locator("#evasive_b input").click()
        page.locator("#rationale textarea").fill("Checked on my phone between patients.")
        entered = shown(page)
        page.set_viewport_size({"width": 390, "height": 844})
        page.mouse.wheel(0, 2000)
        page.mouse.wheel(0, -700)
        tabs = page.get_by_role("tab")
        for i in range(tabs.count()):
            if tabs.nth(i).is_visible():
                tabs.nth(i).click()
        page.get_by_role("tab", name="Judge").first.click()
        other = page.context.new_page()
        other.goto(app["url"])
        wait_ready(other)
        assert question(other) == entered["question"]
        other.close()
        page.bring_to_front()
        assert shown(page) == entered
        submit = page.locator("#submit")
        box = submit.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 844, box
        assert box["height"] >= 44 and box["width"] >= 44, box
        submit.click()
        wait_saved(page, 1)
        wait_question_changes(page, entered["question"])
        assert judged_count(page) == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        screen_is_sound(page, watch)
    assert_stored(exported(app, "dr_phone"), [entered])


def test_log_out_with_enter_and_back_in_resumes_the_same_pair(app):
    """A judgment stored, the next pair half-entered, Enter on the focused Log out link: the
    login page; after logging in again the same unjudged pair is shown, and it can be judged."""
    with browser_page() as page:
        watch = Watch(page, allow_401=True)
        sign_in(page, app["url"], "dr_logout")
        focus_page(page)
        page.keyboard.press("3")
        entered = [shown(page)]
        page.keyboard.press("Enter")
        wait_saved(page, 1)
        pending = wait_question_changes(page, entered[0]["question"])
        focus_page(page)
        page.keyboard.press("1")
        page.locator("#logout").focus()
        page.keyboard.press("Enter")
        page.get_by_label("password").wait_for(timeout=30_000)
        assert exported(app, "dr_logout") and len(exported(app, "dr_logout")) == 1
        sign_in(page, app["url"], "dr_logout")
        page.wait_for_function("(q) => document.querySelector('#question .prose')?.innerText.trim() === q", arg=pending,
                               timeout=30_000)
        assert judged_count(page) == 1
        focus_page(page)
        page.keyboard.press("2")
        entered.append(shown(page))
        page.locator("#submit").click()
        wait_saved(page, 2)
        screen_is_sound(page, watch)
    assert_stored(exported(app, "dr_logout"), entered)


def test_revise_from_keys_and_enter_on_the_guidelines_header(app):
    """Ctrl+Enter from the rationale, Enter on the Guidelines header, then U to revise the last
    judgment (changed and saved with Enter), U again and Back to judging: one row per pair, the
    revised values stored, the progress never counting a revision as a new judgment."""
    with browser_page() as page:
        watch = Watch(page)
        sign_in(page, app["url"], "dr_revise")
        focus_page(page)
        page.keyboard.press("1")
        page.locator("#rationale textarea").click()
        page.keyboard.type("first look 2 3", delay=25)
        first = shown(page)
        page.keyboard.press("Control+Enter")
        wait_saved(page, 1)
        second = wait_question_changes(page, first["question"])
        assert page.evaluate("document.activeElement.tagName") not in ("TEXTAREA", "INPUT")
        page.get_by_role("button", name=re.compile("^Guidelines")).focus()
        page.keyboard.press("3")
        page.keyboard.press("Enter")
        wait_saved(page, 2)
        third = wait_question_changes(page, second)
        focus_page(page)
        page.keyboard.press("u")
        page.wait_for_function("(q) => document.querySelector('#question .prose')?.innerText.trim() === q", arg=second,
                               timeout=30_000)
        assert shown(page)["choice"] == "tie"
        assert judged_count(page) == 2
        focus_page(page)
        page.keyboard.press("4")
        page.locator("#rationale textarea").fill("On reflection both are poor.")
        revised = shown(page)
        focus_page(page)
        page.keyboard.press("Enter")
        page.wait_for_function("(q) => document.querySelector('#question .prose')?.innerText.trim() === q", arg=third,
                               timeout=30_000)
        assert "Revision saved" in bar(page) and judged_count(page) == 2
        page.keyboard.press("u")
        page.wait_for_function("(q) => document.querySelector('#question .prose')?.innerText.trim() === q", arg=second,
                               timeout=30_000)
        page.get_by_role("button", name="Back to judging").click()
        page.wait_for_function("(q) => document.querySelector('#question .prose')?.innerText.trim() === q", arg=third,
                               timeout=30_000)
        assert judged_count(page) == 2 and shown(page)["choice"] is None
        screen_is_sound(page, watch)
    rows = exported(app, "dr_revise")
    assert_stored(rows, [first, revised])
    assert {row["question"]: row["revisions"] for row in rows}[second] == 1


def walk_away_and_submit(page) -> None:
    """The physician leaves the screen past the idle time-out, comes back and presses Submit."""
    page.wait_for_timeout(18_000)  # heartbeats of the open tab do not count as activity
    page.locator("#submit").click()
    page.locator("#relogin").get_by_label("password").wait_for(timeout=30_000)


def test_idle_session_ends_and_the_waiting_submit_is_saved_after_login(app, idle_server):
    """A choice, flags and a rationale entered, the physician walks away, then presses Submit; the
    login dialog opens over the screen, and after logging in there the submit is saved once."""
    with browser_page() as page:
        watch = Watch(page, allow_401=True)
        sign_in(page, idle_server.url, "dr_idle")
        focus_page(page)
        page.keyboard.press("2")
        page.keyboard.press("e")
        page.locator("#rationale textarea").fill("Answer A hedges; B cites the trial.")
        entered = shown(page)
        walk_away_and_submit(page)
        assert shown(page) == entered  # the screen behind the dialog keeps everything
        dialog = page.locator("#relogin")
        dialog.get_by_label("password").fill(PASSWORD)
        dialog.get_by_role("button", name="Log in").click()
        wait_saved(page, 1)
        wait_question_changes(page, entered["question"])
        assert judged_count(page) == 1
        screen_is_sound(page, watch)
    assert_stored(exported(app, "dr_idle"), [entered])


def test_shared_ward_computer_colleague_logs_in_through_the_dialog(app, idle_server):
    """dr_ward_a's session ends with a judgment half-entered; dr_ward_b, at the same ward computer,
    logs in through the dialog with her own name. Nothing of a's may be stored under b (or under a,
    who did not log in again), and b must get a working screen."""
    with browser_page() as page:
        watch = Watch(page, allow_401=True)
        sign_in(page, idle_server.url, "dr_ward_a")
        focus_page(page)
        page.keyboard.press("1")
        page.locator("#rationale textarea").fill("Note by dr_ward_a.")
        walk_away_and_submit(page)
        dialog = page.locator("#relogin")
        dialog.get_by_label("username").fill("dr_ward_b")
        dialog.get_by_label("password").fill(PASSWORD)
        dialog.get_by_role("button", name="Log in").click()
        page.wait_for_function("() => !document.querySelector('#relogin')?.open", timeout=30_000)
        page.wait_for_timeout(5_000)  # whatever the login triggers has landed
        assert exported(app, "dr_ward_a") == [] and exported(app, "dr_ward_b") == []
        screen_is_sound(page, watch)
        wait_ready(page)
        assert page.input_value("#whoami input") == "dr_ward_b"
        # a's unsent entry is neither shown to b nor kept on b's screen, and b is told it was discarded
        assert "Note by dr_ward_a." not in page.evaluate(VISIBLE_TEXT)
        assert shown(page)["choice"] is None and shown(page)["rationale"] == ""
        assert "discarded" in page.inner_text("#handed_over")


def test_page_source_sent_to_a_physician_names_no_system(app):
    """SECURITY.md: no response a physician's browser receives names a system. The page itself
    (with the app's configuration embedded by Gradio) is the first such response."""
    with browser_page() as page:
        sign_in(page, app["url"], "dr_source")
        page_source_is_blind(page)
