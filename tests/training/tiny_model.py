"""A tiny Llama chat model built from nothing, for tests and benchmarks (no model hub here).

`build_tiny_model(directory)` trains a byte-level BPE on the text below with `tokenizers`, wraps it in
`PreTrainedTokenizerFast` with a chat template, builds a random 2-layer `LlamaForCausalLM` and saves
both with `save_pretrained`, so the app's own loading code (`from_pretrained(directory)`, vLLM's
`LLM(model=directory)`, `vllm serve directory`) reads them back like any local checkpoint.

Sizes: head size 64 (hidden 128 / 2 heads), because vLLM's CPU attention rejects small head sizes
such as 16. `initializer_range=0.2` (Llama's default is 0.02) makes the random next-token
distributions peaked rather than near-uniform, so tests comparing backends compare real numbers.
"""
from pathlib import Path

# Words the judge and generation prompts use, so they tokenize into a few hundred tokens, not thousands.
CORPUS = """
You are a careful judge. Compare the two responses to the question and decide which one is better.
Answer with A, B or tie on the first line, then give your reasons. Rate the response from 1 to 10.
Answer yes or no. Write a checklist of yes/no questions that a good answer must satisfy.
The question: what is the capital of France? Paris is the capital of France. Response A. Response B.
A is better. B is better. tie. verdict: A. verdict: B. The answer is correct, helpful, honest and clear.
Name a prime number. 7 is prime. 9 is not prime. Say hello. Hello there! How are you today?
Summarize the text in one sentence. Translate this into French. Write a short poem about the sea.
The user asked a question and the assistant answered it well, with a short and precise answer.
1 2 3 4 5 6 7 8 9 10 yes no {"verdict": "A"} {"verdict": "B"} {"verdict": "tie"} [[A]] [[B]]
"""
SPECIAL_TOKENS = ["<|pad|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
VOCAB_SIZE = 640
# A larger Llama of the same build for benchmarks (bench/bench_engines.py): 32.1M parameters. Head size 64.
SIZE_32M = {"hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 10, "num_attention_heads": 8,
            "num_key_value_heads": 4}


def build_tiny_model(directory: Path, *, seed: int = 0, size: dict[str, int] | None = None) -> Path:
    """Write a tiny chat model (tokenizer + float32 weights) into `directory`; returns it. `size` overrides the
    LlamaConfig sizes (e.g. SIZE_32M)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = Path(directory)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator([line for line in CORPUS.splitlines() if line.strip()] * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|pad|>", chat_template=CHAT_TEMPLATE
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[2:]})
    sizes = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
             "num_attention_heads": 2,  # head size 64: vLLM's CPU attention needs it
             "num_key_value_heads": 1, **(size or {})}
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        **sizes,
        max_position_embeddings=2048,
        initializer_range=0.2,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
