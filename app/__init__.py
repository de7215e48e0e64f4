"""The annotation app (Gradio) and its storage (SQLModel), and the `medalign` command."""

__version__ = "0.1.0"
