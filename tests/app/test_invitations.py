"""One-time sign-up links (issue 22), over raw HTTP: the token is stored hashed, a link works
once (also when two requests race), expired, replaced and unknown links say so in words, the
password rules are the accounts' own, a post from another site is refused, and unknown links are
throttled per address as wrong passwords are. A researcher revokes an open link: the row stays
with who and when, the link then says it was withdrawn, and only open links can be revoked."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from app import storage
from app.models import Invitation
from app.storage import invitations
from app.storage.base import as_utc
from tests.app.conftest import PASSWORD

NEW_PASSWORD = "a-fresh-password-9"


def invite(engine, name, *, study=None, days=7, now=None) -> str:
    with storage.transaction(engine) as session:
        chosen = storage.get_study(session, study) if study else None
        return invitations.create_invitation(session, name, "boss", days=days, study=chosen, now=now)


def sign_up(server, token, password=NEW_PASSWORD, **headers) -> httpx.Response:
    return httpx.post(f"{server}/signup", data={"token": token, "password": password, "confirm": password},
                      headers=headers, timeout=30)


def test_a_link_works_once_and_stores_only_a_hash(server, engine, make_study):
    make_study("ward-inv", n=2)
    token = invite(engine, "dr_new", study="ward-inv")
    with storage.transaction(engine) as session:
        row = session.exec(select(Invitation)).one()
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest() and token not in repr(row)
        user = storage.get_user(session, "dr_new")
        assert user.disabled  # no login before sign-up
        assert [u.name for u in storage.study_members(session, storage.get_study(session, "ward-inv"))] == ["dr_new"]
    page = httpx.get(f"{server}/signup", params={"token": token}, timeout=30)
    assert page.status_code == 200 and "dr_new" in page.text and "ward-inv" in page.text
    short = sign_up(server, token, "short")
    assert short.status_code == 400 and "password of 8 to 1024 characters" in short.json()["detail"]
    done = sign_up(server, token)
    assert done.status_code == 200 and done.json() == {"success": True, "study": "ward-inv"}
    assert any(c.startswith("access-token-") for c in done.cookies)  # logged in at once
    again = sign_up(server, token, "another-password-1")
    assert again.status_code == 400 and "already been used" in again.json()["detail"]
    reopened = httpx.get(f"{server}/signup", params={"token": token}, timeout=30)
    assert reopened.status_code == 410 and "already been used" in reopened.text
    with storage.transaction(engine) as session:
        assert storage.authenticate(session, "dr_new", NEW_PASSWORD) is not None  # the first password holds
        assert storage.authenticate(session, "dr_new", "another-password-1") is None
    login = httpx.post(f"{server}/login", data={"username": "dr_new", "password": NEW_PASSWORD}, timeout=30)
    assert login.status_code == 200


def test_two_racing_requests_with_one_link_one_wins(server, engine):
    token = invite(engine, "dr_race")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: sign_up(server, token, f"racing-password-{n}"), range(4)))
    codes = [a.status_code for a in answers]
    # one wins; the others are told the link was used (or, while the attempts are in flight, throttled:
    # an attempt counts until it succeeds, and the fixture allows 3 per address)
    assert codes.count(200) == 1 and set(codes) - {200} <= {400, 429}
    winner = codes.index(200)
    with storage.transaction(engine) as session:
        assert storage.authenticate(session, "dr_race", f"racing-password-{winner}") is not None


def test_expired_replaced_and_unknown_links_say_so(server, engine):
    old = invite(engine, "dr_late", days=1, now=datetime.now(UTC) - timedelta(days=2))
    page = httpx.get(f"{server}/signup", params={"token": old}, timeout=30)
    assert page.status_code == 410 and "expired on" in page.text
    assert "expired on" in sign_up(server, old).json()["detail"]
    first = invite(engine, "dr_twice")
    second = invite(engine, "dr_twice")  # a lost link: the newer replaces it
    assert "replaced by a newer one" in sign_up(server, first).json()["detail"]
    assert sign_up(server, second).status_code == 200
    with storage.transaction(engine) as session, pytest.raises(storage.StorageError, match="already has an account"):
        invitations.create_invitation(session, "dr_twice", "boss")  # signed up: no new link for them
    unknown = httpx.get(f"{server}/signup", params={"token": "x" * 43}, timeout=30)
    assert unknown.status_code == 404 and "not valid" in unknown.text


def test_existing_accounts_and_bad_names_are_refused(engine, make_user):
    make_user("dr_here")
    with storage.transaction(engine) as session:
        with pytest.raises(storage.StorageError, match="already has an account"):
            invitations.create_invitation(session, "dr_here", "boss")
        with pytest.raises(storage.StorageError, match="no spaces"):
            invitations.create_invitation(session, "dr new", "boss")
        with pytest.raises(storage.StorageError, match="at most 30 days"):
            invitations.create_invitation(session, "dr_long", "boss", days=90)


def test_cross_site_post_and_guessing_are_refused(server, engine):
    token = invite(engine, "dr_csrf")
    foreign = sign_up(server, token, Origin="https://evil.example")
    assert foreign.status_code == 403
    with storage.transaction(engine) as session:
        assert storage.get_user(session, "dr_csrf").disabled  # nothing changed
    # the server fixture's throttle: 3 failures per (name, address); unknown links count, known ones do not
    codes = [sign_up(server, f"guess-{n}").status_code for n in range(5)]
    assert codes[:3] == [400, 400, 400] and codes[3:] == [429, 429]
    assert sign_up(server, token).status_code == 429  # from this address, for the throttle's window
    assert httpx.post(f"{server}/login", data={"username": "nobody", "password": PASSWORD},
                      timeout=30).status_code == 400  # logins are a separate pair


def test_a_link_works_once_on_postgresql(pg_engine):
    """On PostgreSQL: two sessions that both read the link as unused before either writes: one sets
    the password, the other is refused (by its second read or by the conditional update)."""
    token = invite(pg_engine, "dr_pg")
    with storage.transaction(pg_engine) as first, storage.transaction(pg_engine) as second:
        invitations.open_invitation(second, token)  # read as unused here too
        invitations.redeem_invitation(first, token, NEW_PASSWORD)
        first.commit()
        with pytest.raises(invitations.InvitationRefused, match="already been used"):
            invitations.redeem_invitation(second, token, "another-password-1")
    with storage.transaction(pg_engine) as session:
        assert storage.authenticate(session, "dr_pg", NEW_PASSWORD) is not None


def test_revoke_and_sign_up_racing_on_postgresql(pg_engine):
    """A sign-up that read the link as open before a researcher revoked it is refused, in words."""
    token = invite(pg_engine, "dr_pg_rev")
    with storage.transaction(pg_engine) as signing, storage.transaction(pg_engine) as revoking:
        invitations.open_invitation(signing, token)  # read as open
        invitations.revoke_invitation(revoking, "dr_pg_rev", "boss")
        revoking.commit()
        with pytest.raises(invitations.InvitationRefused, match="withdrawn"):
            invitations.redeem_invitation(signing, token, NEW_PASSWORD)
    with storage.transaction(pg_engine) as session:
        assert storage.get_user(session, "dr_pg_rev").disabled
        assert session.exec(select(Invitation)).one().revoked_by == "boss"


def test_a_revoked_link_is_kept_and_refused_in_words(server, engine, make_study):
    make_study("ward-rev", n=2)
    token = invite(engine, "dr_gone", study="ward-rev")
    when = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    with storage.transaction(engine) as session:
        assert [r["physician"] for r in invitations.open_invitations(session)] == ["dr_gone"]
        row = invitations.revoke_invitation(session, " dr_gone ", "boss_rev", now=when)
        assert row["state"] == "revoked" and row["revoked"] == "by boss_rev, 2026-05-04 10:30 UTC"
    with storage.transaction(engine) as session:
        stored = session.exec(select(Invitation)).one()  # never deleted
        assert (stored.revoked_by, as_utc(stored.revoked_at), stored.used_at) == ("boss_rev", when, None)
        assert invitations.open_invitations(session) == []
        assert storage.get_user(session, "dr_gone").disabled  # still no login
        with pytest.raises(storage.StorageError, match="already revoked by boss_rev on 2026-05-04 10:30 UTC"):
            invitations.revoke_invitation(session, "dr_gone", "boss2")
    page = httpx.get(f"{server}/signup", params={"token": token}, timeout=30)
    assert page.status_code == 410 and "withdrawn by the study team on 2026-05-04 at 10:30 UTC" in page.text
    assert 'id="signup"' not in page.text
    posted = sign_up(server, token)
    assert posted.status_code == 400 and "withdrawn" in posted.json()["detail"]
    with storage.transaction(engine) as session:
        assert storage.get_user(session, "dr_gone").disabled and session.exec(select(Invitation)).one().used_at is None
    again = invite(engine, "dr_gone")  # a revoked physician may be invited again
    assert sign_up(server, again).status_code == 200


def test_only_an_open_link_can_be_revoked(server, engine):
    with storage.transaction(engine) as session:
        with pytest.raises(storage.StorageError, match="no invitation for 'dr_nobody'"):
            invitations.revoke_invitation(session, "dr_nobody", "boss")
    invite(engine, "dr_old", days=1, now=datetime.now(UTC) - timedelta(days=2))
    used = invite(engine, "dr_used")
    assert sign_up(server, used).status_code == 200
    first = invite(engine, "dr_two")
    invite(engine, "dr_two")  # replaces the first: the newer is the one to revoke
    with storage.transaction(engine) as session:
        with pytest.raises(storage.StorageError, match="already expired on"):
            invitations.revoke_invitation(session, "dr_old", "boss")
        with pytest.raises(storage.StorageError, match="already signed up.*medalign users disable dr_used"):
            invitations.revoke_invitation(session, "dr_used", "boss")
        invitations.revoke_invitation(session, "dr_two", "boss")
        states = {(r["physician"], r["state"], r["revoked"]) for r in invitations.list_invitations(session)}
    assert {(n, s) for n, s, _ in states} == {("dr_old", "expired"), ("dr_used", "used"), ("dr_two", "replaced"),
                                               ("dr_two", "revoked")}
    assert [r for n, s, r in states if s == "replaced"] == [""]  # a replaced link names nobody
    assert "replaced by a newer one" in sign_up(server, first).json()["detail"]


def test_upgrade_to_0009_keeps_replaced_links_replaced(tmp_path):
    """Rows revoked before revision 0009 were replaced by a newer link: they still say so, and the
    open one can be revoked after the upgrade."""
    from sqlalchemy import text

    from app.db import make_engine, upgrade
    from tests.app.test_migrations import _at

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _at(engine, "0008")
    with engine.begin() as c:
        for n, revoked in ((1, "'2026-01-02 00:00:00'"), (2, "NULL")):
            c.execute(text("INSERT INTO invitation (token_sha256, user_name, created_by, created_at, expires_at, "
                           f"revoked_at) VALUES ('hash{n}', 'dr_old', 'boss', '2026-01-0{n} 00:00:00', "
                           f"'2099-01-01 00:00:00', {revoked})"))
    upgrade(engine)
    with storage.transaction(engine) as session:
        assert [r["state"] for r in invitations.list_invitations(session)] == ["open", "replaced"]
        assert invitations.revoke_invitation(session, "dr_old", "boss2")["state"] == "revoked"
