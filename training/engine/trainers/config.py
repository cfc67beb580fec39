"""The job configs of the four trainers: one documented dataclass each, stored on the Job row as `asdict(cfg)`.

Every field has a default and a docstring (the form shows it as help); `__post_init__` raises ValueError naming
the field for a value the trainer cannot use. `base_model_id` is a ModelArtifact id: the job runner resolves it
to a local path and passes that to the engine, which never sees the id.

Defaults follow TRL's where TRL has one (DPO beta 0.1, learning rates of its docs) and are sized for small
curated datasets of a few thousand rows: a checkpoint every 100 steps, a log line every 10.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["TrainConfig", "RewardTrainConfig", "DPOTrainConfig", "ListwiseTrainConfig", "KTOTrainConfig"]

DPO_LOSSES = ("sigmoid", "ipo", "robust", "hinge")
LISTWISE_LOSSES = ("pro", "lipo")


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _at_least(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass
class TrainConfig:
    """Fields every trainer shares (the subclasses add their own)."""

    base_model_id: int | None = None
    """ModelArtifact id of the model to start from (the runner resolves it to a path)."""
    learning_rate: float = 1e-5
    """Peak learning rate of AdamW (linear decay to 0 after an optional warm-up)."""
    epochs: float = 1.0
    """Passes over the training rows (fractions allowed). Ignored when max_steps is set."""
    max_steps: int | None = None
    """Stop after this many optimizer steps instead of `epochs` (None: epochs decide)."""
    batch_size: int = 8
    """Rows per device per forward pass (a pair, a list or one thumbs row each)."""
    gradient_accumulation_steps: int = 1
    """Forward passes per optimizer step: the effective batch is batch_size x this x devices."""
    warmup_ratio: float = 0.0
    """Share of the steps over which the learning rate ramps up from 0, 0-1."""
    max_length: int = 1024
    """Longest prompt + response in tokens; longer sequences are truncated (RM: dropped, as TRL does)."""
    lora: bool = False
    """Train a LoRA adapter (PEFT) instead of all weights; the artifact is then the adapter."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by lora_alpha / lora_r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA input, 0-1."""
    lora_target_modules: list[str] | None = None
    """Module names that get adapters (e.g. ["q_proj", "v_proj"]); None: every linear layer."""
    seed: int = 42
    """Seed of data order, dropout and freshly initialised heads."""
    checkpoint_every: int = 100
    """Save a checkpoint every this many optimizer steps; a re-run of a killed job resumes from the last one."""
    save_total_limit: int = 2
    """Checkpoints kept on disk (older ones are deleted)."""
    logging_steps: int = 10
    """Report loss, learning rate and accuracy every this many steps."""
    eval_at_end: bool = True
    """Evaluate on the test rows after training and store the numbers in metrics.json."""
    use_weights: bool = True
    """Multiply each row's loss by its curation weight (normalised by the mean weight of the training rows)."""
    group_by_length: bool = True
    """Put rows of similar token length in the same batch (transformers' LengthGroupedSampler): far less padding,
    about twice as fast on chat data; off: batches drawn uniformly at random."""

    def __post_init__(self) -> None:
        _positive("learning_rate", self.learning_rate)
        _positive("epochs", self.epochs)
        if self.max_steps is not None:
            _at_least("max_steps", self.max_steps, 1)
        _at_least("batch_size", self.batch_size, 1)
        _at_least("gradient_accumulation_steps", self.gradient_accumulation_steps, 1)
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}")
        _at_least("max_length", self.max_length, 8)
        _at_least("lora_r", self.lora_r, 1)
        _at_least("lora_alpha", self.lora_alpha, 1)
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}")
        if self.lora_target_modules is not None and (
            not self.lora_target_modules or not all(isinstance(m, str) and m for m in self.lora_target_modules)
        ):
            raise ValueError("lora_target_modules must be a non-empty list of module names, or null for all linear")
        _at_least("seed", self.seed, 0)
        _at_least("checkpoint_every", self.checkpoint_every, 1)
        _at_least("save_total_limit", self.save_total_limit, 1)
        _at_least("logging_steps", self.logging_steps, 1)


@dataclass
class RewardTrainConfig(TrainConfig):
    """A Bradley-Terry reward model (TRL RewardTrainer) on pairwise rows; listwise rows are expanded to pairs."""

    learning_rate: float = 1e-5
    """Peak learning rate of AdamW."""
    use_margin: bool = True
    """Subtract the row's margin from the reward difference (TRL's margin loss); rows without one use 0."""
    center_rewards_coefficient: float | None = None
    """If set, adds coef x mean(reward^2) to keep rewards centred near 0 (TRL's option); None: off."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.center_rewards_coefficient is not None:
            _positive("center_rewards_coefficient", self.center_rewards_coefficient)


@dataclass
class DPOTrainConfig(TrainConfig):
    """Direct Preference Optimization (TRL DPOTrainer) on pairwise rows, optionally robust (rDPO) or weighted."""

    learning_rate: float = 1e-6
    """Peak learning rate of AdamW (DPO needs a small one)."""
    loss: str = field(default="sigmoid", metadata={"choices": DPO_LOSSES})  # a select on the form
    """"sigmoid" (DPO), "ipo", "robust" (rDPO with flip rate robust_epsilon) or "hinge" (SLiC)."""
    beta: float = 0.1
    """Strength of the KL tie to the reference model: higher keeps the policy closer to it."""
    robust_epsilon: float | None = None
    """rDPO's label-flip rate in [0, 0.5); None: the dataset version's estimated noise rate (loss "robust" only)."""
    win_rate_judge_id: int | None = None
    """After training, judge the trained policy against the base model on held-out (test-split) prompts with this
    ModelArtifact (an LLM judge or a reward model); None: no win rate. With lora the policy is base + adapter."""
    win_rate_prompts: int = 32
    """Win rate: how many test-split prompts (the first ones, distinct) each model answers."""
    win_rate_max_new_tokens: int = 64
    """Win rate: longest answer of each model, in tokens (greedy decoding)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss not in DPO_LOSSES:
            raise ValueError(f"loss must be one of {', '.join(DPO_LOSSES)}, got {self.loss!r}")
        _positive("beta", self.beta)
        if self.robust_epsilon is not None and not 0.0 <= self.robust_epsilon < 0.5:
            raise ValueError(f"robust_epsilon must be in [0, 0.5), got {self.robust_epsilon!r}")
        if self.win_rate_judge_id is not None:
            _at_least("win_rate_judge_id", self.win_rate_judge_id, 1)
        _at_least("win_rate_prompts", self.win_rate_prompts, 1)
        _at_least("win_rate_max_new_tokens", self.win_rate_max_new_tokens, 1)


@dataclass
class ListwiseTrainConfig(TrainConfig):
    """Listwise preference training with PRO or LiPO-lambda (losses.py) on listwise rows."""

    learning_rate: float = 1e-6
    """Peak learning rate of AdamW."""
    batch_size: int = 4
    """Lists per forward pass (each list holds all its responses)."""
    loss: str = field(default="lipo", metadata={"choices": LISTWISE_LOSSES})
    """"pro" (Preference Ranking Optimization) or "lipo" (LiPO-lambda, with a frozen reference model)."""
    beta: float = 0.1
    """LiPO: scale of the implicit reward beta x (log pi - log pi_ref)."""
    temperature: float = 1.0
    """PRO: the length-normalised log-likelihoods are divided by this before the softmax."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss not in LISTWISE_LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LISTWISE_LOSSES)}, got {self.loss!r}")
        _positive("beta", self.beta)
        _positive("temperature", self.temperature)


@dataclass
class KTOTrainConfig(TrainConfig):
    """Kahneman-Tversky Optimization (TRL KTOTrainer) on unpaired thumbs-up / thumbs-down rows."""

    learning_rate: float = 1e-6
    """Peak learning rate of AdamW."""
    beta: float = 0.1
    """Strength of the KL tie to the reference model."""
    desirable_weight: float = 1.0
    """Loss weight of thumbs-up rows (raise it when they are outnumbered)."""
    undesirable_weight: float = 1.0
    """Loss weight of thumbs-down rows."""
    use_weights: bool = field(default=False)
    """Not supported by KTO (per-row weights are ignored); the class weights above balance the labels."""
    group_by_length: bool = field(default=False)
    """Not supported by KTO: TRL estimates its KL term from neighbouring rows in a fixed (sequential) order."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size < 2:
            # KTO estimates its KL term from mismatched pairs inside a batch (TRL refuses batch size 1).
            raise ValueError(f"batch_size must be >= 2 for KTO, got {self.batch_size}")
        _positive("beta", self.beta)
        _positive("desirable_weight", self.desirable_weight)
        _positive("undesirable_weight", self.undesirable_weight)
        if self.use_weights:
            raise ValueError("use_weights is not supported by KTO: use desirable_weight / undesirable_weight")
        if self.group_by_length:
            raise ValueError("group_by_length is not supported by KTO: its KL term pairs rows in a fixed order")
