"""Converters from public preference datasets to PrefStudio `native` JSONL.

Plain Python (no Django), so they run anywhere: `python scripts/convert/pandalm.py SRC OUT.jsonl`.
Each module also exposes `convert(src, *, limit=None, skips=None) -> Iterator[dict]`.
"""
