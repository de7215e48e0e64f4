"""The Gradio app: a shared shell (app/ui/shell.py), one panel per study kind (pairwise.py,
rating.py), the researcher tab (researcher.py); keyboard script in keyboard.py, style in style.py.

The browser only ever receives texts labelled "Answer A" / "Answer B" (pairwise) or "Answer"
(rating); which system wrote which stays in the database, and assignment ids stay in gr.State
(which never reaches the browser). Model and user text is shown in plain-text components only.
"""

from app.ui.keyboard import KEYBOARD_JS
from app.ui.shell import build_ui
from app.ui.style import CSS

__all__ = ["CSS", "KEYBOARD_JS", "build_ui"]
