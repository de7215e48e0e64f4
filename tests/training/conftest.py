"""A tiny model built once per test session from the bundled sample (seconds on a CPU)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    from data import pubmedqa
    from data.prepare import build_examples, write_prepared
    from data.prompts import PUBMEDQA_TEMPLATE

    out = tmp_path_factory.mktemp("tiny-data")
    records, source = pubmedqa.load_source(None)
    prepared = build_examples(records, n=66, holdout=16, seed=0, template=PUBMEDQA_TEMPLATE)
    write_prepared(prepared, out, dataset="pubmedqa", source=source, seed=0, n=66, holdout=16, template=PUBMEDQA_TEMPLATE)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory):
    from training.recipes import TinyModelRecipe
    from training.tiny_model import build_tiny_model

    out = tmp_path_factory.mktemp("tiny-model")
    build_tiny_model(tiny_data, out, TinyModelRecipe(stage="tiny-model", pretrain_steps=60, vocab_size=1024))
    return out


@pytest.fixture(scope="session")
def tiny_chat_model(tiny_data, tmp_path_factory):
    """The same tiny model with a chat template (training/chat.py), pre-trained in that format."""
    from training.recipes import TinyModelRecipe
    from training.tiny_model import build_tiny_model

    out = tmp_path_factory.mktemp("tiny-chat-model")
    build_tiny_model(tiny_data, out, TinyModelRecipe(stage="tiny-model", pretrain_steps=60, vocab_size=1024,
                                                     chat_template=True))
    return out
