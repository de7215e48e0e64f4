"""What the issue-15 speed-ups must not change: progress shown right after an assignment is the
one a fresh transaction computes, SQLite writers in one process queue on one lock per database
file, and the once-a-second session check still sees users added since its last read."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from app import storage
from app.db import open_database
from app.login import Sessions
from app.storage.base import _writer_lock


def _fresh_progress(engine, study_name, user_name):
    with storage.transaction(engine) as session:
        study, user = storage.get_study(session, study_name), storage.get_user(session, user_name)
        return storage.progress(session, study, user)


def test_progress_after_assignment_matches_a_fresh_count(engine, make_study, make_user):
    study = make_study(n=9, overlap=2, gold=2)
    users = [make_user(f"dr{i}") for i in range(4)]
    compared = 0
    for _round in range(12):
        for user in users:  # interleaved: one physician's assignment fills units another could take
            with storage.transaction(engine) as session:
                assignment = storage.next_assignment(session, study, user)
                if assignment is None:
                    continue
                shown = storage.progress(session, study, user)  # reuses next_assignment's list
                storage.submit_judgment(session, user, assignment.id, choice="a")
            fresh = _fresh_progress(engine, study.name, user.name)
            assert (shown.judged, shown.total) == (fresh.judged - 1, fresh.total)
            compared += 1
    assert compared == 9 * 2 + 2 * 4  # every unit slot and every gold unit was handed out once


def test_one_writer_lock_per_sqlite_file(tmp_path):
    first, second = open_database(f"sqlite:///{tmp_path / 'a.db'}"), open_database(f"sqlite:///{tmp_path / 'a.db'}")
    other = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    assert _writer_lock(first) is _writer_lock(second)
    assert _writer_lock(first) is not _writer_lock(other)
    order = []

    def writer():
        with storage.transaction(second):
            order.append("second")

    with storage.transaction(first):
        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # waiting on the lock, not failing with "database is locked"
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "second"]


def test_session_check_sees_a_user_added_after_its_last_read(engine, make_user):
    make_user("early")

    class Tokens:
        tokens: dict = {}
        cookie_id = "x"

    sessions = Sessions(engine, recheck_s=3600)
    sessions.gradio_app = Tokens()
    early = asyncio.run(sessions.issue("early", datetime.now(UTC)))
    assert asyncio.run(sessions.still_valid(early))
    make_user("late")  # within the recheck interval: the table read above does not have them
    late = asyncio.run(sessions.issue("late", datetime.now(UTC)))
    assert asyncio.run(sessions.still_valid(late))
    ghost = asyncio.run(sessions.issue("nobody", datetime.now(UTC)))
    assert not asyncio.run(sessions.still_valid(ghost))
