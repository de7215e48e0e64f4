"""The `medalign` command tree (cli.py, commands/) and the demo (demo/): they sit on top of
data/, training/, evaluation/ and app/ and may import all of them; nothing imports medalign/
except training/__main__.py (the thin `python -m training` entry for `accelerate launch`)."""
