"""Plain-text lines of the calibration reports for the management commands (curate, agreement, route) and the
version page: accuracy
against references with its 95 % interval, the aggregation choice, the noise signals' checks, the tie policy.
Input is the JSON the services store or return, already rendered for the reader (annotator tokens -> names).
No Django."""
from __future__ import annotations

from typing import Any

__all__ = ["proportion_text", "reference_lines", "curation_lines"]


def proportion_text(p: dict[str, Any] | None) -> str:
    """{k, n, value, low, high} -> '81.2 % [76.0, 85.6] (n=240)'."""
    if not p or not p.get("n"):
        return "n/a (no reference)"
    return f"{100 * p['value']:.1f} % [{100 * p['low']:.1f}, {100 * p['high']:.1f}] (n={p['n']})"


def _agreement(agreement: dict[str, Any] | None) -> list[str]:
    if not agreement:
        return []
    per_item = agreement.get("per_item")
    return [f"  agreement with the consensus: per item {'n/a' if per_item is None else f'{per_item:.3f}'} "
            f"({agreement['n_items']} items) · per vote {proportion_text(agreement['per_vote'])} · per vote "
            f"excluding ties {proportion_text(agreement['per_vote_no_ties'])}"]


def reference_lines(report: dict[str, Any]) -> list[str]:
    """Lines of a selectors.references.ReferenceReport.as_json()."""
    lines = _agreement(report.get("agreement"))
    lines.append(f"  references ({report['reference_use']}): {report['n_references']} pairwise items with one")
    for row in report["annotators"]:
        kind = "judge" if row["is_judge"] else "person"
        lines.append(f"    {row['annotator']} ({kind}): {proportion_text(row['accuracy'])}; excluding ties "
                     f"{proportion_text(row['accuracy_no_ties'])}")
    for method, p in report["methods"].items():
        lines.append(f"    method {method}: {proportion_text(p)}")
    for warning in report["warnings"]:
        lines.append(f"  warning ({warning['code']}): {warning['message']}")
    for row in report.get("listwise", {}).get("annotators", []):
        lines.append(f"    listwise {row['annotator']}: best group right {proportion_text(row['top_accuracy'])}")
    return lines


def curation_lines(stats: dict[str, Any]) -> list[str]:
    """Lines of a dataset version's statistics about aggregation, noise, ties and references."""
    consensus = stats.get("consensus", {})
    lines: list[str] = []
    agg = consensus.get("aggregation")
    if agg:
        lines.append(f"  aggregation {agg['method']}: chose {agg['chosen']} - {agg['reason']}")
        for method, p in agg.get("cv_accuracy", {}).items():
            lines.append(f"    cross-validated accuracy {method}: {proportion_text(p)}")
        for method, p in agg.get("method_accuracy", {}).items():
            lines.append(f"    accuracy against references, {method} (fitted without them): {proportion_text(p)}")
        for who, p in agg.get("annotator_accuracy", {}).items():
            lines.append(f"    accuracy against references, {who}: {proportion_text(p)}")
        if agg.get("consensus_accuracy"):
            lines.append(f"    consensus accuracy (held out): {proportion_text(agg['consensus_accuracy'])}")
        lines += _agreement(agg.get("agreement"))
        for warning in agg.get("warnings", []):
            lines.append(f"  warning ({warning['code']}): {warning['message']}")
    noise = consensus.get("noise")
    if noise:
        auroc = "n/a" if noise["auroc"] is None else f"{noise['auroc']:.3f}"
        lines.append(f"  noise score: {noise['combiner']} combiner"
                     f"{' learned from calibration references' if noise['learned_from_references'] else ''}, "
                     f"AUROC {auroc}; flagged {noise['flagged']} (share {noise['flag_share']})")
        if noise.get("reason"):
            lines.append(f"    combiner chosen: {noise['reason']}")
        if noise["dropped_signals"]:
            lines.append(f"    wrong-way signals dropped: {', '.join(noise['dropped_signals'])}")
        for name, check in noise["checks"].items():
            if check["n"]:
                a = "n/a" if check["auroc"] is None else f"{check['auroc']:.3f}"
                lines.append(f"    signal {name}: AUROC {a} ({check['direction']}, n={check['n']}, "
                             f"weight {noise['weights'].get(name, 0)})")
    ties = stats.get("ties")
    if ties:
        lines.append(f"  ties ({ties['policy']}): {ties['pairwise_ties']} pairwise ties; {ties['dropped']} dropped, "
                     f"{ties['kept_as_rows']} kept as tie rows, {ties['for_review']} kept for review")
    refs = stats.get("references")
    if refs:
        lines.append(f"  against references: uncurated {proportion_text(refs['uncurated'])} -> curated "
                     f"{proportion_text(refs['curated'])}; {100 * refs['dropped_share']:.1f} % of reference items "
                     f"dropped")
    if stats.get("dropped_share") is not None:
        lines.append(f"  dropped share of all items: {100 * stats['dropped_share']:.1f} %")
    return lines
