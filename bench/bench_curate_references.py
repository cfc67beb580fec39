"""Curation against gold references on real data, through the app's own commands (issue 14 item 7).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ps_evidence SECRET_KEY=... \
        .venv/bin/python bench/bench_curate_references.py [--db ps_bench_evidence] [--hh 1000] [--sets pandalm,hh]

The database named by --db (it must contain "bench") is dropped and recreated on the server of DATABASE_URL,
migrated, and every step runs `manage.py import_data / curate / export_data` against it (the project's
reference_use is set with the service the settings page calls, through `manage.py shell`).

Two sets, each a native import file with disagreement and a reference per item:

- pandalm: the 999 PandaLM pairs (scripts/convert/pandalm.py). Labels: the two LLM judges (GPT-3.5, PandaLM-7B)
  and ONE of the three humans, rotating (human idx % 3); reference: the other two humans when they agree on A or
  B (items where they disagree or agree on a tie have no reference). No human is both a label and part of the
  reference of the same item.
- hh: the first --hh pairs of HH-RLHF helpful-base test (identical chosen/rejected skipped), sides shuffled;
  five simulated annotators with accuracies 0.85, 0.75, 0.65, 0.60, 0.55 (independent flips); reference = the
  original chosen side.

Per set, one evaluation set of items: reference items outside the 10 % calibration sample. Projects:
  <set>-eval    every reference imported, reference_use evaluation: "uncurated" (majority, every item kept, ties as
                tie rows) and "default" (`curate SLUG` with no settings);
  <set>-cal5 / <set>-cal10: only the 5 % / 10 % calibration sample's references imported, reference_use
                calibration; `--set method=auto --set ties=drop --set flag_share=F` for F in 0.1, 0.2, 0.3.
The evaluation references stay in this script (outside the DB for the calibration projects) and score the
version's rows (`export_data --format trl --split all` + `--dropped`): accuracy with a 95 % Wilson interval over
the evaluation items (a dropped item does not count; a kept tie row counts as wrong), the dropped share of all
items (version stats), and the run's combined noise AUROC next to its best single signal (from curate's report:
against the evaluation references on <set>-eval, cross-fitted on the calibration references otherwise), and on
the evaluation items each stored signal's AUROC where it applies and over all items (its mean severity where it
does not apply: the like-for-like comparison with the combined score, which ranks every item).
Prints a markdown table per set and writes the raw figures to --out (JSON).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotation.curation.calibration import proportion  # noqa: E402
from scripts.convert._common import Skips  # noqa: E402
from scripts.convert.pandalm import convert  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
HH_ACCURACY = (0.85, 0.75, 0.65, 0.60, 0.55)
FLAG_SHARES = (0.1, 0.2, 0.3)
CAL_SHARES = (0.05, 0.10)


# -- the import files --------------------------------------------------------------------------------------------
def pandalm_set(src: Path) -> tuple[list[dict], dict[str, str]]:
    records, refs = [], {}
    for record in convert(src, skips=Skips()):
        idx = record["metadata"]["idx"]
        humans = [lab for lab in record["labels"] if lab["annotator_kind"] == "human"]
        judges = [lab for lab in record["labels"] if lab["annotator_kind"] == "judge"]
        humans.sort(key=lambda lab: lab["annotator"])
        label_human = humans[idx % 3]
        others = [h["winner"] for h in humans if h is not label_human]
        record = {k: v for k, v in record.items() if k != "labels"}
        record["labels"] = judges + [label_human]
        records.append(record)
        if others[0] == others[1] and others[0] in ("A", "B"):
            refs[record["id"]] = others[0]
    return records, refs


def _hh_split(chosen: str, rejected: str) -> tuple[str, str, str] | None:
    cut = chosen.rfind("\n\nAssistant:")
    if cut < 0 or chosen[:cut] != rejected[:cut] or not rejected[cut:].startswith("\n\nAssistant:"):
        return None
    a = chosen[cut + len("\n\nAssistant:"):].strip()
    b = rejected[cut + len("\n\nAssistant:"):].strip()
    if not a or not b or a == b:
        return None
    return chosen[:cut].strip(), a, b


def hh_set(src: Path, n: int, seed: int = 0) -> tuple[list[dict], dict[str, str]]:
    rng = np.random.default_rng(seed)
    records, refs = [], {}
    with gzip.open(src / "helpful-base_test.jsonl.gz", "rt", encoding="utf-8") as stream:
        for line_no, line in enumerate(stream):
            if len(records) >= n:
                break
            row = json.loads(line)
            parts = _hh_split(row["chosen"], row["rejected"])
            if parts is None:
                continue
            prompt, chosen, rejected = parts
            swap = bool(rng.random() < 0.5)
            truth = "B" if swap else "A"
            responses = [{"text": rejected}, {"text": chosen}] if swap else [{"text": chosen}, {"text": rejected}]
            labels = []
            for j, acc in enumerate(HH_ACCURACY):
                right = rng.random() < acc
                labels.append({"annotator": f"sim-{j + 1}-acc{int(acc * 100)}", "annotator_kind": "human",
                               "winner": truth if right else ("A" if truth == "B" else "B")})
            ext = f"hh-helpful-{line_no}"
            records.append({"id": ext, "kind": "pairwise", "prompt": prompt, "responses": responses,
                            "labels": labels, "metadata": {"source": "hh_rlhf/helpful-base_test", "line": line_no}})
            refs[ext] = truth
    return records, refs


def write_file(path: Path, records: list[dict], refs: dict[str, str], visible: set[str]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            rec = dict(record)
            if record["id"] in visible:
                rec["reference"] = {"winner": refs[record["id"]]}
            out.write(json.dumps(rec) + "\n")


# -- the app's commands ------------------------------------------------------------------------------------------
class App:
    def __init__(self, database_url: str):
        self.env = dict(os.environ, DATABASE_URL=database_url)

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(args[:3])} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def set_reference_use(self, slug: str, use: str) -> None:
        self.manage("shell", "-c", (
            "from annotation.models import Project; from annotation.services.projects import project_update; "
            f"project_update(project=Project.objects.get(slug={slug!r}), user=None, "
            f"changes={{'reference_use': {use!r}}})"))


    def consensus(self, slug: str) -> dict[str, dict]:
        """{external id: {winner, noise_score, severities}} of the project's latest consensus (the run just made)."""
        out = self.manage("shell", "-c", (
            "import json; from annotation.models import ItemConsensus; print(json.dumps({e: [w, s, v] for e, w, s, "
            f"v in ItemConsensus.objects.filter(item__project__slug={slug!r}).values_list('item__external_id', "
            "'winner', 'noise_score', 'severities')}))"))
        return {e: {"winner": w, "noise_score": s, "severities": v or {}}
                for e, (w, s, v) in json.loads(out.strip().splitlines()[-1]).items()}


def held_out_auroc(consensus: dict[str, dict], refs: dict[str, str], evaluation: list[str]) -> dict:
    """AUROC of the stored combined noise score and of each signal's severity for "the consensus is wrong", on the
    evaluation items (never seen by any calibration), items without a decided winner or a score left out."""
    from sklearn.metrics import roc_auc_score

    def auc(pairs: list[tuple[float, bool]]) -> float | None:
        wrong = [w for _, w in pairs]
        if not pairs or all(wrong) or not any(wrong):
            return None
        return round(float(roc_auc_score(wrong, [x for x, _ in pairs])), 3)

    rows = [(consensus[e], consensus[e]["winner"] != refs[e]) for e in evaluation
            if e in consensus and consensus[e]["winner"] in ("A", "B", "tie")]
    names = sorted({name for c, _ in rows for name in c["severities"]})
    signals = {name: auc([(c["severities"][name], w) for c, w in rows if c["severities"].get(name) is not None])
               for name in names}
    signals = {k: v for k, v in signals.items() if v is not None}
    best = max(signals, key=signals.get) if signals else None
    # The same signals over ALL the rows the combined score is judged on, a signal's mean severity standing in
    # where it does not apply (as curation's single-signal scores do): the like-for-like comparison.
    everywhere = {}
    for name in names:
        present = [c["severities"][name] for c, _ in rows if c["severities"].get(name) is not None]
        if present:
            mean = sum(present) / len(present)
            a = auc([(c["severities"].get(name, mean) if c["severities"].get(name) is not None else mean, w)
                     for c, w in rows])
            if a is not None:
                everywhere[name] = a
    best_all = max(everywhere, key=everywhere.get) if everywhere else None
    return {"combined": auc([(c["noise_score"], w) for c, w in rows if c["noise_score"] is not None]),
            "n": len(rows), "n_wrong": sum(w for _, w in rows), "signals": signals, "best_signal": best,
            "best_signal_auroc": signals.get(best) if best else None, "signals_all_items": everywhere,
            "best_signal_all_items": best_all, "best_signal_all_items_auroc": everywhere.get(best_all)}


def fresh_database(base_url: str, name: str) -> str:
    if "bench" not in name:
        raise SystemExit("--db must contain 'bench': it is dropped and recreated")
    url = urlparse(base_url)
    host, port, user = url.hostname or "127.0.0.1", str(url.port or 5432), url.username or "postgres"
    for cmd in (["dropdb", "--if-exists"], ["createdb"]):
        subprocess.run([*cmd, "-h", host, "-p", port, "-U", user, name], check=True)
    return urlunparse(url._replace(path="/" + name))


AUROC_LINE = re.compile(r"noise score: .* AUROC ([0-9.]+|n/a)")
SIGNAL_LINE = re.compile(r"signal (\w+): AUROC ([0-9.]+|n/a) \((\w[\w -]*), n=(\d+)")
SHARE_LINE = re.compile(r"dropped share of all items: ([0-9.]+) %")
CHOSE_LINE = re.compile(r"aggregation \w+: chose (\S+)")


def score_version(app: App, slug: str, version: int, texts: dict[str, tuple[str, str]], refs: dict[str, str],
                  evaluation: list[str], tmp: Path) -> dict:
    rows_path, dropped_path = tmp / f"{slug}-v{version}.jsonl", tmp / f"{slug}-v{version}-dropped.jsonl"
    app.manage("export_data", slug, str(version), "--format", "trl", "--split", "all", "--out", str(rows_path),
               "--force")
    app.manage("export_data", slug, str(version), "--dropped", "--out", str(dropped_path), "--force")
    winners: dict[str, str] = {}
    for line in rows_path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        a, b = texts[row["item"]]
        winners[row["item"]] = "A" if row["chosen"] == a and row["rejected"] == b else (
            "B" if row["chosen"] == b and row["rejected"] == a else "?")
    dropped = {json.loads(line)["item"] for line in dropped_path.read_text(encoding="utf-8").splitlines()}
    kept = [ext for ext in evaluation if ext not in dropped]
    right = sum(winners.get(ext) == refs[ext] for ext in kept)  # a kept item without a pair row is a tie row
    p = proportion(right, len(kept))
    return {"k": right, "n": len(kept), "accuracy": p.value, "low": p.low, "high": p.high,
            "eval_dropped_share": 1 - len(kept) / len(evaluation), "n_tie_rows": sum(e not in winners for e in kept)}


def curate(app: App, slug: str, settings: list[str], texts, refs, evaluation, tmp: Path) -> dict:
    started = time.perf_counter()
    out = app.manage("curate", slug, *[a for s in settings for a in ("--set", s)])
    seconds = time.perf_counter() - started
    version = int(re.search(r" v(\d+): ", out).group(1))
    result = score_version(app, slug, version, texts, refs, evaluation, tmp)
    result["held_out_noise"] = held_out_auroc(app.consensus(slug), refs, evaluation)
    auroc = AUROC_LINE.search(out)
    signals = {m.group(1): {"auroc": None if m.group(2) == "n/a" else float(m.group(2)), "direction": m.group(3),
                            "n": int(m.group(4))} for m in SIGNAL_LINE.finditer(out)}
    usable = {k: v["auroc"] for k, v in signals.items() if v["auroc"] is not None}
    best = max(usable, key=usable.get) if usable else None
    share = SHARE_LINE.search(out)
    chose = CHOSE_LINE.search(out)
    result.update(
        slug=slug, version=version, settings=settings, seconds=round(seconds, 1),
        dropped_share=float(share.group(1)) / 100 if share else None,
        noise_auroc=None if not auroc or auroc.group(1) == "n/a" else float(auroc.group(1)),
        best_signal=best, best_signal_auroc=usable.get(best) if best else None, signals=signals,
        chose=chose.group(1) if chose else None, report=out,
    )
    return result


def _progress(r: dict) -> None:
    h = r["held_out_noise"]
    print(f"  {r['label']}: {100 * r['accuracy']:.1f} % (n={r['n']}), dropped {r['dropped_share']}, noise AUROC "
          f"{r['noise_auroc']} vs {r['best_signal']} {r['best_signal_auroc']}; held out {h['combined']}"
          f" vs {h['best_signal']} {h['best_signal_auroc']} (all items: {h.get('best_signal_all_items')} "
          f"{h.get('best_signal_all_items_auroc')}), chose {r['chose']}, {r['seconds']} s "
          f"(load {open('/proc/loadavg').read().split()[0]})", file=sys.stderr)


def run_set(app: App, name: str, records: list[dict], refs: dict[str, str], tmp: Path, seed: int = 0,
            flag_shares=FLAG_SHARES, baselines: bool = True) -> list[dict]:
    texts = {r["id"]: (r["responses"][0]["text"], r["responses"][1]["text"]) for r in records}
    with_ref = sorted(refs)
    order = np.random.default_rng(seed).permutation(len(with_ref))
    cal = {share: {with_ref[i] for i in order[:round(share * len(with_ref))]} for share in CAL_SHARES}
    evaluation = [e for e in with_ref if e not in cal[max(CAL_SHARES)]]
    print(f"\n{name}: {len(records)} items, {len(refs)} with a reference, evaluation set {len(evaluation)} items "
          f"(calibration samples: {', '.join(f'{int(s * 100)} % = {len(c)}' for s, c in cal.items())})",
          file=sys.stderr)
    results = []
    slug = f"{name}-eval"
    path = tmp / f"{slug}.jsonl"
    write_file(path, records, refs, set(refs))
    print(app.manage("import_data", str(path), "--project", slug, "--format", "native").strip(), file=sys.stderr)
    for label, settings in (("uncurated (majority, all kept)", ["method=majority", "ties=keep_as_tie_rows"]),
                            ("default settings", []))[:2 if baselines else 0]:
        r = curate(app, slug, settings, texts, refs, evaluation, tmp)
        r.update(label=label, set=name, calibration=0.0)
        results.append(r)
        _progress(r)
    for share in CAL_SHARES:
        slug = f"{name}-cal{int(share * 100)}"
        path = tmp / f"{slug}.jsonl"
        write_file(path, records, refs, cal[share])
        print(app.manage("import_data", str(path), "--project", slug, "--format", "native").strip(), file=sys.stderr)
        app.set_reference_use(slug, "calibration")
        for flag_share in flag_shares:
            settings = ["method=auto", "ties=drop", f"flag_share={flag_share}"]
            r = curate(app, slug, settings, texts, refs, evaluation, tmp)
            r.update(label=f"calibrated {int(share * 100)} %, flag_share {flag_share}", set=name, calibration=share)
            results.append(r)
            _progress(r)
    return results


def table(name: str, results: list[dict]) -> str:
    base = results[0]["accuracy"] if results[0]["calibration"] == 0 else float("nan")
    lines = [f"**{name}**", "",
             "| setting | aggregation | accuracy vs held-out references [95 % CI] (n kept) | Δ vs uncurated | "
             "dropped share (all items) | noise AUROC (run report) | best single signal (run report) | "
             "noise AUROC (held-out refs) | best single signal (held-out refs, where it applies) | best single signal "
             "(held-out refs, all items) | curate s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        auroc = "n/a" if r["noise_auroc"] is None else f"{r['noise_auroc']:.3f}"
        best = "n/a" if r["best_signal"] is None else f"{r['best_signal']} ({r['best_signal_auroc']:.3f})"
        h = r["held_out_noise"]
        h_best = "n/a" if h["best_signal"] is None else f"{h['best_signal']} ({h['best_signal_auroc']:.3f})"
        h_all = "n/a" if not h.get("best_signal_all_items") else (
            f"{h['best_signal_all_items']} ({h['best_signal_all_items_auroc']:.3f})")
        lines.append(
            f"| {r['label']} | {r['chose'] or '-'} | {100 * r['accuracy']:.1f} % [{100 * r['low']:.1f}, "
            f"{100 * r['high']:.1f}] ({r['n']}) | {100 * (r['accuracy'] - base):+.1f} | "
            f"{100 * (r['dropped_share'] or 0):.1f} % | {auroc} | {best} | {h['combined']} | {h_best} | {h_all} | "
            f"{r['seconds']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="ps_bench_evidence")
    parser.add_argument("--datasets", default=str(DATASETS))
    parser.add_argument("--hh", type=int, default=1000)
    parser.add_argument("--sets", default="pandalm,hh")
    parser.add_argument("--out", default="")
    parser.add_argument("--flag-shares", default=",".join(map(str, FLAG_SHARES)))
    parser.add_argument("--no-baselines", action="store_true", help="calibrated runs only (Δ then reads n/a)")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    app = App(fresh_database(base_url, args.db))
    app.manage("migrate", "-v", "0")
    datasets = Path(args.datasets)
    print(f"load average at start: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    all_results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            records, refs = pandalm_set(datasets / "pandalm") if name == "pandalm" else \
                hh_set(datasets / "hh_rlhf", args.hh)
            results = run_set(app, name, records, refs, Path(tmp), baselines=not args.no_baselines,
                              flag_shares=tuple(float(f) for f in args.flag_shares.split(",")))
            all_results[name] = results
            print(table(name, results) + "\n")
    print(f"load average at end: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    if args.out:
        Path(args.out).write_text(json.dumps(all_results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
