"""A small local chat model for the demo: a byte-level BPE and a 4-layer Llama trained briefly on demo text.

There is no model hub here, so `make run` builds the generative model its demo projects use: the same recipe as
the tests' tiny Llama (tests/training/tiny_model.py), a little larger and trained for a minute on the demo's own
prompts and responses, so that its samples are English-looking text rather than random tokens. It is a toy: it
exists so that every job form (generate, judge, DPO, KTO, listwise, evaluate) has a causal LM that runs with the
form's defaults on a 2-core CPU, on both the `hf` and the `vllm` backends.

Sizes (why each number):
- hidden 256 with 4 heads: head size 64, because vLLM's CPU attention rejects small head sizes such as 16;
- 4 layers, intermediate 512, vocabulary 2,048: about 3 M parameters, so one training step of 8 x 128 tokens
  takes about half a second on 2 cores and a DPO step with a reference model stays fast;
- max_position_embeddings 1,024: the job forms' default max length fits it.

Plain Python (no Django): `build_demo_lm(directory, texts=..., progress=...)` writes tokenizer + weights with
`save_pretrained`, so the app loads it back like any local checkpoint.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.progress import NullProgress, Progress

__all__ = ["DemoLMConfig", "build_demo_lm", "CHAT_TEMPLATE", "SPECIAL_TOKENS"]

SPECIAL_TOKENS = ["<|pad|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class DemoLMConfig:
    """How the demo model is built. Defaults: about 60-90 s on a 2-core CPU."""

    vocab_size: int = 2048
    hidden_size: int = 256
    intermediate_size: int = 512
    num_layers: int = 4
    num_heads: int = 4  # head size 64 (vLLM CPU attention needs >= 32)
    max_positions: int = 1024
    seq_len: int = 128  # tokens per training sequence
    batch_size: int = 8
    steps: int = 100
    learning_rate: float = 3e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads or self.hidden_size // self.num_heads < 32:
            raise ValueError("hidden_size / num_heads must be a whole head size of at least 32")
        if self.steps < 0 or self.batch_size < 1 or self.seq_len < 8:
            raise ValueError("steps >= 0, batch_size >= 1 and seq_len >= 8 are required")


def build_demo_lm(
    directory: Path, *, texts: Iterable[tuple[str, str]], config: DemoLMConfig = DemoLMConfig(),
    progress: Progress | None = None,
) -> dict[str, float]:
    """Train and save the demo model into `directory`; returns {"params", "steps", "loss_first", "loss_last", "seconds"}.

    `texts` are (prompt, response) pairs: the tokenizer is trained on them, and the model on them rendered with
    the chat template, so it learns the <|user|> ... <|assistant|> ... <|end|> shape the judge and generation
    code sends it.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    progress = progress or NullProgress()
    started = time.monotonic()
    pairs = [(p.strip(), r.strip()) for p, r in texts if p and r and p.strip() and r.strip()]
    if not pairs:
        raise ValueError("texts: no (prompt, response) pair to train the demo model on")
    tokenizer = _train_tokenizer(pairs, config.vocab_size, config.max_positions)
    progress.update(0.05, "tokenizer trained")

    chats = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False
        )
        for p, r in pairs
    ]
    ids = [i for chat in chats for i in tokenizer(chat)["input_ids"]]  # one token stream, cut into windows
    n_windows = max(1, len(ids) // config.seq_len)
    stream = torch.tensor(ids[: n_windows * config.seq_len] or ids, dtype=torch.long)
    windows = stream.view(-1, min(config.seq_len, len(stream)))  # (N, T)

    torch.manual_seed(config.seed)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            num_key_value_heads=max(1, config.num_heads // 2),
            max_position_embeddings=config.max_positions,
            bos_token_id=None,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        )
    ).to(torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    rng = random.Random(config.seed)
    losses: list[float] = []
    model.train()
    for step in range(config.steps):
        progress.check_cancelled()
        rows = torch.tensor([rng.randrange(len(windows)) for _ in range(config.batch_size)])
        batch = windows[rows]  # (B, T)
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        progress.metric(step + 1, loss=losses[-1])
        progress.update(0.05 + 0.9 * (step + 1) / max(1, config.steps), f"training step {step + 1}/{config.steps}")
    model.eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    progress.update(1.0, "saved")
    return {
        "params": float(sum(p.numel() for p in model.parameters())),
        "steps": float(config.steps),
        "loss_first": losses[0] if losses else float("nan"),
        "loss_last": losses[-1] if losses else float("nan"),
        "seconds": time.monotonic() - started,
    }


def _train_tokenizer(pairs: Sequence[tuple[str, str]], vocab_size: int, max_positions: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator((text for pair in pairs for text in pair), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|pad|>", chat_template=CHAT_TEMPLATE,
        model_max_length=max_positions,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[2:]})
    return tokenizer
