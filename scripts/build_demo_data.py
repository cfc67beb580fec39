"""Rebuild demo/data/ (the slices `manage.py load_demo` imports) from the full public datasets.

    python scripts/build_demo_data.py [DATASETS_DIR] [OUT_DIR]     (or: make demo-data)

DATASETS_DIR defaults to ../shared/datasets beside the checkout, OUT_DIR to demo/data. Each slice
comes with its upstream LICENSE and SOURCE_COMMIT, and demo/data/README.md is rewritten to name them.
Plain Python (no Django), like the converters it runs.
"""
import gzip
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.convert import lamp, pandalm, pandalm_thumbs, qa_feedback
from scripts.convert._common import Skips, write_jsonl

HH_FILE = "helpful-base_test.jsonl.gz"
HH_LINES = 300

# (folder, output file, converter or None for a raw copy, limit, what the slice is, license)
SLICES = (
    ("pandalm", "pandalm-first200.jsonl", pandalm, 200,
     ("the first 200 pairs of the PandaLM test set (testset-v1.json joined with the GPT-3.5 and PandaLM-7B "
      "verdicts), converted by scripts/convert/pandalm.py"), "Apache-2.0"),
    ("pandalm", "pandalm-thumbs-first100.jsonl", pandalm_thumbs, 100,
     ("thumbs items (up for the response an annotator preferred, down for the other) derived from the first 100 "
      "PandaLM pairs by scripts/convert/pandalm_thumbs.py, for KTO"), "Apache-2.0"),
    ("hh_rlhf", "helpful-base_test-first300.jsonl.gz", None, HH_LINES,
     f"the first {HH_LINES} lines of HH-RLHF {HH_FILE}, unchanged (raw `hh` format)", "MIT"),
    ("qa_feedback", "dev_feedback-first50.jsonl", qa_feedback, 50,
     "the first 50 questions of QA-Feedback dev_feedback.json, converted by scripts/convert/qa_feedback.py",
     "Apache-2.0"),
    ("lamp", "lamp-first20.jsonl", lamp, 20,
     ("the first 20 paragraphs of LAMP lamp_edits_subset.jsonl and their rankings from "
      "lamp_preference_rankings.jsonl, converted by scripts/convert/lamp.py"), "BSD-3-Clause"),
)

README_HEAD = """# Demo data

Small slices of public preference datasets, shipped so that `make run` works on a machine without
`../shared/datasets`. `python manage.py load_demo` imports them (see annotation/services/demo.py).
Rebuild them with `make demo-data` (scripts/build_demo_data.py). None of this data was written by
PrefStudio; each folder keeps its upstream LICENSE and SOURCE_COMMIT.

| folder | file | what | license | upstream (SOURCE_COMMIT) |
|---|---|---|---|---|
"""


def _copy_hh_lines(src: Path, out: Path, n: int) -> int:
    with gzip.open(src, "rb") as f_in, gzip.GzipFile(out, "wb", mtime=0) as f_out:
        for i, line in enumerate(f_in):
            if i >= n:
                break
            f_out.write(line)
    return min(i + 1, n)


def build(datasets: Path, out_dir: Path) -> list[str]:
    rows, summaries = [], []
    for folder, name, module, limit, what, license_name in SLICES:
        target = out_dir / folder
        target.mkdir(parents=True, exist_ok=True)
        if module is None:
            written = _copy_hh_lines(datasets / folder / HH_FILE, target / name, limit)
            summaries.append(f"{folder}: copied {written} line(s)")
        else:
            skips = Skips()
            written = write_jsonl(module.convert(datasets / folder, limit=limit, skips=skips), target / name)
            summaries.append(skips.summary(folder, written))
        for extra in ("LICENSE", "SOURCE_COMMIT"):
            shutil.copyfile(datasets / folder / extra, target / extra)
        commit = " ; ".join(
            line.strip() for line in (datasets / folder / "SOURCE_COMMIT").read_text().splitlines() if line.strip()
        )
        rows.append(f"| `{folder}/` | `{name}` | {what} | {license_name} | {commit} |")
    (out_dir / "README.md").write_text(README_HEAD + "\n".join(rows) + "\n", encoding="utf-8")
    return summaries


def main(argv: list[str]) -> int:
    datasets = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "datasets"
    out_dir = Path(argv[2]) if len(argv) > 2 else ROOT / "demo" / "data"
    if not datasets.is_dir():
        print(f"datasets not found at {datasets}", file=sys.stderr)
        return 2
    for summary in build(datasets, out_dir):
        print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
