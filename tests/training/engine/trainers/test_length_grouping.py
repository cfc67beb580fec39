"""TrainConfig.group_by_length: every trainer batches rows of similar token length (transformers'
LengthGroupedSampler), which cuts padding -- what made the demo's training jobs slow on a CPU."""
import pytest
import torch

from training.engine.trainers import DPOTrainConfig, KTOTrainConfig, ListwiseTrainConfig, RewardTrainConfig
from training.engine.trainers.common import token_lengths, trainer_args
from training.engine.trainers.data import listwise_rows, pairwise_rows
from training.engine.trainers.dpo import build_dpo_trainer, load_policy
from training.engine.trainers.listwise import ListDataset, ListwiseCollator, ListwiseTrainer
from training.engine.trainers.reward import build_reward_trainer, load_reward_model

N = 64  # rows; batch 4: 16 batches, mega-batches of 16 rows sorted by length (transformers' rule for small sets)
SIZES = dict(batch_size=4, max_steps=8)


def _words(i: int) -> str:
    """Responses from 1 to ~60 words, in an order unrelated to the row index."""
    return " ".join(["word"] * (1 + (i * 37) % 61))


def _pairs() -> list[dict]:
    return pairwise_rows([
        {"prompt": [{"role": "user", "content": f"Question {i}?"}], "chosen": _words(i), "rejected": _words(i) + " not",
         "margin": None, "weight": 1.0, "split": "train", "source": "human", "noise_score": None} for i in range(N)])


def _padded_tokens(loader) -> int:
    """Tokens the model sees over one epoch, padding included (every batch is padded to its longest row)."""
    total = 0
    for batch in loader:
        ids = [v for k, v in batch.items() if k.endswith("input_ids") and isinstance(v, torch.Tensor)]
        total += sum(t.numel() for t in ids)
    return total


def _sampled(trainer) -> list[int]:
    return list(trainer._get_train_sampler())


def _check(make) -> None:
    """Grouped: a permutation of all rows, and less padding than uniform batches of the same rows."""
    grouped, uniform = make(True), make(False)
    assert grouped.args.train_sampling_strategy == "group_by_length" != uniform.args.train_sampling_strategy
    assert sorted(_sampled(grouped)) == list(range(len(grouped.train_dataset)))  # each row once per epoch
    lengths = token_lengths(grouped.train_dataset)
    assert len(set(lengths)) > 4, "the rows must differ in length for the comparison to mean anything"
    assert _padded_tokens(grouped.get_train_dataloader()) < 0.8 * _padded_tokens(uniform.get_train_dataloader())


def test_reward_trainer_groups_by_length(tiny_model_dir, tmp_path):
    model, tokenizer = load_reward_model(tiny_model_dir)

    def make(group):
        config = RewardTrainConfig(group_by_length=group, **SIZES)
        return build_reward_trainer(config, _pairs(), model, tokenizer, tmp_path / str(group))

    _check(make)


def test_dpo_trainer_groups_by_length_and_the_length_is_prompt_plus_longest_response(tiny_model_dir, tmp_path):
    model, tokenizer = load_policy(tiny_model_dir)

    def make(group):
        return build_dpo_trainer(DPOTrainConfig(group_by_length=group, **SIZES), _pairs(), model, tokenizer,
                                 tmp_path / str(group))

    _check(make)
    dataset = make(True).train_dataset
    row = dataset[0]
    assert token_lengths(dataset)[0] == len(row["prompt_ids"]) + max(len(row["chosen_ids"]), len(row["rejected_ids"]))


def test_kto_keeps_trls_sequential_order_and_refuses_grouping(tiny_model_dir, tmp_path):
    """TRL's KTO pairs each row with its neighbour's completion for the KL term: a fixed order it requires."""
    from trl import KTOConfig

    config = KTOTrainConfig(**SIZES)
    assert config.group_by_length is False
    assert trainer_args(KTOConfig, config, tmp_path).train_sampling_strategy == "sequential"
    with pytest.raises(ValueError, match="group_by_length is not supported by KTO"):
        KTOTrainConfig(group_by_length=True)


def test_listwise_trainer_groups_lists_by_their_longest_response(tiny_model_dir, tmp_path):
    from transformers import TrainingArguments

    model, tokenizer = load_policy(tiny_model_dir)
    rows = listwise_rows([{"prompt": [{"role": "user", "content": f"Question {i}?"}],
                           "responses": [_words(i), _words(i) + " no", "no"], "ranking": [[0], [1], [2]],
                           "weight": 1.0, "split": "train", "source": "human"} for i in range(N)])
    dataset = ListDataset(rows, tokenizer, None)
    assert dataset.token_lengths() == [max(len(p) + len(c) for p, c in item["pairs"]) for item in dataset.items]

    def make(group):
        config = ListwiseTrainConfig(group_by_length=group, **SIZES)
        args = trainer_args(TrainingArguments, config, tmp_path / str(group), remove_unused_columns=False)
        return ListwiseTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                               data_collator=ListwiseCollator(tokenizer.pad_token_id, config.max_length),
                               loss="pro", beta=0.1, temperature=1.0)

    _check(make)


def test_group_by_length_off_keeps_transformers_random_sampler(tiny_model_dir, tmp_path):
    model, tokenizer = load_reward_model(tiny_model_dir)
    trainer = build_reward_trainer(RewardTrainConfig(group_by_length=False, **SIZES), _pairs(), model, tokenizer,
                                   tmp_path)
    assert type(trainer._get_train_sampler()).__name__ == "RandomSampler"


def test_token_lengths_names_a_dataset_without_token_ids():
    from datasets import Dataset

    with pytest.raises(ValueError, match="no token id columns"):
        token_lengths(Dataset.from_list([{"text": "a"}]))
