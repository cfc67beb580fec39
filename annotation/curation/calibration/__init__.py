"""Calibration: checking an aggregate and a noise score against items whose class is known, and choosing by it.

    choice.py         aggregation_choose: cross-validated choice among aggregators and the best single annotator
    reliability.py    reliability_check: warnings from the agreement structure when there are no references;
                      consensus_agreement: per-item, per-vote and excluding-ties agreement
    noise_weights.py  noise_calibrate: each signal's AUROC and direction, the chosen combiner and its score,
                      flag_top_share; noise_fit: the same choice from SignalStats gathered a chunk at a time
    noise_choice.py   which combiner: the best single signal unless a combination is better by more than one
                      (paired) standard error; a prior signal with too few references
    scoring.py        accuracy against references (evaluation only: nothing is fitted to them), per annotator
                      and per aggregation method
    _stats.py         Wilson intervals, AUROC with its standard error, stratified folds

References enter as two arrays over the items of the votes: `references` (I,) int8, the known class (0 = A,
1 = B, 2 = tie, -1 = none), and `calibration` (I,) bool, which of them this run may use. A selector that
stores a reference per item only has to build these two arrays. No Django.
"""
from .choice import SINGLE, AggregationChoice, AggregationRun, MethodScore, aggregation_choose
from .noise_weights import (NoiseCalibration, NoiseFit, SignalCheck, SignalStats, flag_top_share, noise_calibrate,
                            noise_fit, noise_keep, signal_checks)
from .reliability import ConsensusAgreement, ReliabilityWarning, consensus_agreement, reliability_check
from .scoring import annotator_accuracy, method_accuracy, ranking_top_accuracy, winner_accuracy
from ._stats import Proportion, proportion

__all__ = ["SINGLE", "AggregationChoice", "AggregationRun", "MethodScore", "aggregation_choose", "NoiseCalibration",
           "SignalCheck", "flag_top_share", "noise_calibrate", "signal_checks", "NoiseFit", "SignalStats", "noise_fit",
           "noise_keep", "ConsensusAgreement",
           "ReliabilityWarning", "consensus_agreement", "reliability_check", "annotator_accuracy", "method_accuracy",
           "ranking_top_accuracy", "winner_accuracy", "Proportion", "proportion"]
