"""The one error decorator: refusals and a busy database become a message, never a traceback."""

import gradio as gr
import pytest
from sqlalchemy.exc import OperationalError

from app.storage import StorageError
from app.ui.common import storage_errors


@pytest.mark.parametrize("error, message", [
    (StorageError("only your most recent judgment can be revised"), "only your most recent"),
    (OperationalError("UPDATE judgment ...", {}, Exception("database is locked")), "Not saved: the database is busy"),
])
def test_errors_become_messages(error, message):
    @storage_errors
    def handler():
        raise error

    with pytest.raises(gr.Error, match=message) as raised:
        handler()
    assert "UPDATE" not in str(raised.value)
