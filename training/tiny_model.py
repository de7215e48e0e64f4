"""A tiny Mistral-architecture model built from the local corpus, for CPU runs and tests.

A byte-level BPE tokenizer is trained on the prepared examples; the model is a MistralConfig
with a few small layers (BioMistral is a Mistral), optionally given a short causal-LM pass on
the same text so that its answers look like text rather than noise. Saved with
save_pretrained and loaded back with from_pretrained like any hub model. Deterministic for a
seed on the same machine.
"""

from __future__ import annotations

import json
from pathlib import Path

from training.recipes import TinyModelRecipe

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def corpus_texts(data_dir: Path, *, chat: bool = False) -> list[str]:
    """Full training texts (prompt + answer) of the prepared train.jsonl in data_dir; with chat, in
    the tiny chat template's format (user turn, assistant turn), so the model learns its markers.

    The holdout stays out: the model later answers those questions and must not have seen them.
    """
    from data.prepare import read_examples

    path = Path(data_dir) / "train.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (run `medalign data prepare` first)")
    if chat:  # the same text TINY_CHAT_TEMPLATE renders, without its EOS (added below)
        return [f"<|user|>\n{row['prompt']}\n<|assistant|>\n{row['answer']}" for row in read_examples(path)]
    return [row["prompt"] + row["answer"] for row in read_examples(path)]


def train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL_TOKENS)


def build_tiny_model(data_dir: Path, out_dir: Path, recipe: TinyModelRecipe) -> dict:
    import torch
    from tqdm.auto import tqdm
    from transformers import MistralConfig, MistralForCausalLM, set_seed

    set_seed(recipe.seed)
    from training.chat import TINY_CHAT_TEMPLATE

    texts = corpus_texts(data_dir, chat=recipe.chat_template)
    tokenizer = train_tokenizer(texts, recipe.vocab_size)
    if recipe.chat_template:
        tokenizer.chat_template = TINY_CHAT_TEMPLATE
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden_size,
        intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.num_hidden_layers,
        num_attention_heads=recipe.num_attention_heads,
        num_key_value_heads=recipe.num_key_value_heads,
        max_position_embeddings=recipe.max_position_embeddings,
        sliding_window=None,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = MistralForCausalLM(config)

    losses = []
    if recipe.pretrain_steps:
        # Short causal-LM pass over the corpus (each text ends with EOS so the model learns to stop).
        encoded = [tokenizer(t + tokenizer.eos_token, truncation=True, max_length=256)["input_ids"] for t in texts]
        generator = torch.Generator().manual_seed(recipe.seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.pretrain_learning_rate)
        model.train()
        for _step in tqdm(range(recipe.pretrain_steps), desc="tiny model pre-training", leave=False):
            batch_ids = torch.randint(len(encoded), (recipe.pretrain_batch_size,), generator=generator).tolist()
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in batch_ids]}, return_tensors="pt")
            labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
            loss = model(**batch, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        model.eval()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    summary = {
        "recipe": recipe.model_dump(),
        "corpus_texts": len(texts),
        "parameters": sum(p.numel() for p in model.parameters()),
        "pretrain_loss_first": losses[0] if losses else None,
        "pretrain_loss_last": sum(losses[-10:]) / len(losses[-10:]) if losses else None,
    }
    (out_dir / "tiny_model.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
