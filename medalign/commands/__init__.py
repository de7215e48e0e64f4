"""One module per command group; each exposes `register(root)` (or `build()`), called only by
medalign/cli.py. Heavy libraries (torch, transformers, gradio, SQLModel, statsmodels) are imported
inside the commands that use them, so that `medalign --help` stays fast."""
