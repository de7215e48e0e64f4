"""`python -m training <stage> ...`: the training stages without the web app.

So that `accelerate launch [--config_file configs/accelerate/X.yaml] -m training sft --config ...`
starts one process per device, each running the stage. The commands are `medalign train ...`'s
(medalign/commands/train.py, which never imports app/), plus `generate`; `feedback` reads export
files here (`--judgments`), the database only through `medalign train feedback --study`.
"""

from __future__ import annotations

from medalign.commands.train import training_entry

app = training_entry()  # tiny-model, sft, pairs, dpo, feedback and generate at the top level


def main() -> None:
    app(prog_name="python -m training")


if __name__ == "__main__":
    main()
