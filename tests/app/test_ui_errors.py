"""The one refusal decorator: refusals and a busy database become a message, never a traceback;
for a browser the screen is kept (no error state), for an API client the refusal is an error."""

from types import SimpleNamespace

import gradio as gr
import pytest
from sqlalchemy.exc import OperationalError

from app.storage import AccessDenied, StorageError
from app.ui.common import storage_errors

REFUSALS = [
    (StorageError("only your most recent judgment can be revised"), "only your most recent"),
    (OperationalError("UPDATE judgment ...", {}, Exception("database is locked")), "Not saved: the database is busy"),
]


class FakeUI:
    def refused(self, message, exc=None):
        return {"notice": message}


def handler_raising(error):
    @storage_errors
    def handler(request=None, *, ctx=None):
        raise error

    return handler


@pytest.mark.parametrize("error, message", REFUSALS)
def test_a_browser_keeps_its_screen_and_reads_the_refusal(error, message):
    request = SimpleNamespace(headers={})
    out = handler_raising(error)(request, ctx=SimpleNamespace(ui=FakeUI()))
    assert message in out["notice"] and "UPDATE" not in out["notice"] and "still on screen" in out["notice"]


@pytest.mark.parametrize("error, message", REFUSALS)
def test_an_api_client_gets_the_refusal_as_an_error(error, message):
    request = SimpleNamespace(headers={"x-gradio-user": "api"})
    with pytest.raises(gr.Error, match=message) as raised:
        handler_raising(error)(request, ctx=SimpleNamespace(ui=FakeUI()))
    assert "UPDATE" not in str(raised.value)


def test_access_refusals_stay_errors():
    with pytest.raises(gr.Error, match="researcher"):
        handler_raising(AccessDenied("this needs the researcher role"))(SimpleNamespace(headers={}),
                                                                        ctx=SimpleNamespace(ui=FakeUI()))


def test_every_cannot_judge_code_has_one_label_and_labels_change_no_code():
    from app.ui.common import SKIP_REASON_LABELS
    from evaluation.kinds.skip import SkipReason

    assert set(SKIP_REASON_LABELS) == set(SkipReason)  # the form offers every stored reason
    assert len(set(SKIP_REASON_LABELS.values())) == len(SkipReason)
    assert all(str(code) == code.value for code in SKIP_REASON_LABELS)  # the form sends the stored code
