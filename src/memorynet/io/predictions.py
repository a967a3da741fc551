"""Predictions out: one row per image and rank, as CSV (quoted by the csv module, so any label text survives) or
JSON lines (``.jsonl``), written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

from .atomic import atomic_write

__all__ = ["FIELDS", "write_predictions"]

FIELDS = ("path", "index", "rank", "label", "class_name", "score")


def write_predictions(path: str | os.PathLike, rows: Iterable[tuple[str, int, list[tuple[object, str, float]]]]
                      ) -> int:
    """Write ``rows`` of (file, index in the file, [(label, class name, score)] best first) to ``path``: CSV, or
    JSON lines when it ends in ``.jsonl``; one record per image and rank. Returns the number of images."""
    path = Path(path)
    records = [dict(zip(FIELDS, (source, index, rank, label, name, score)))
               for source, index, best in rows for rank, (label, name, score) in enumerate(best, start=1)]
    if path.suffix.lower() == ".jsonl":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    else:
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, FIELDS, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        text = buffer.getvalue()
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
    return sum(1 for record in records if record["rank"] == 1)
