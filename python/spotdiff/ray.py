"""Distributed batch on Ray Data: many pairs across a cluster, one record per pair.

A manifest of pairs (JSON Lines or Parquet with columns ``name``, ``a``, ``b``; or the
JSON manifest of ``spotdiff eval``) goes through ``Dataset.map_batches`` with an actor
class, :class:`PairComparer`, that holds one :class:`spotdiff.Comparer` (the backbone
is loaded once per actor, not per pair). Each pair gives one record:

=========  ==============================================================
``name``   the pair's name
``a``      A's path, ``b`` B's path (relative ones joined to the manifest's folder)
``ms``     milliseconds the pair took
``verdict``  ``identical``, ``same`` or ``different``; ``None`` when it failed
``boxes``  number of boxes; ``None`` when it failed
``report`` the JSON report of ``spotdiff compare --json``, as text; ``None`` when it failed
``error``  the one-line error when the pair failed, else ``None``
=========  ==============================================================

the fields of ``spotdiff batch``'s JSON lines, with the report kept as JSON text so that
every row has the same Parquet schema. A bad pair (missing, corrupt, sizes differ) is
an error row; the job goes on.

From Python::

    import ray, spotdiff.ray
    ray.init()                                    # or ray.init(address="auto")
    summary = spotdiff.ray.run("pairs.parquet", "out/", workers=8)

From a shell (``python -m spotdiff.ray --help``)::

    python -m spotdiff.ray pairs.jsonl out/ --workers 8 --format parquet

Each actor takes ``cpus_per_worker`` CPUs and runs its pairs one after another with
that many threads (``RAYON_NUM_THREADS``); ONNX Runtime sizes its own pool to the
cores it can see.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import numpy as np
import ray
import ray.data

import spotdiff

if TYPE_CHECKING:
    import pyarrow

__all__ = ["COLUMNS", "PairComparer", "main", "read_manifest", "read_results", "run", "schema", "summarize"]

#: The columns of every output row, in order, with their Arrow types: fixed, so that
#: every file of a run has one schema (a batch without a failure still has a string
#: `error` column, of nulls).
COLUMNS = ("name", "a", "b", "ms", "verdict", "boxes", "report", "error")
_TYPES = ("string", "string", "string", "float64", "string", "int64", "string", "string")


def schema() -> "pyarrow.Schema":
    """The Arrow schema of the output rows."""
    import pyarrow as pa

    return pa.schema([(c, getattr(pa, t)()) for c, t in zip(COLUMNS, _TYPES)])


def read_manifest(path: str) -> "ray.data.Dataset":
    """The pairs of a manifest as a Dataset with (at least) columns ``name``, ``a``,
    ``b``; other columns are carried along unused.

    ``.parquet`` (a file or a folder of them) and ``.jsonl`` are read by Ray, in
    parallel, and need a ``name`` column; a ``.json`` manifest (``spotdiff eval``'s
    format) is read here, its pairs named ``pairN`` where they have no name, as the
    CLI does. The read tasks ask for no CPU: reading a manifest is light, and the
    comparing actors may hold every CPU of the cluster.
    """
    lower = path.lower().rstrip("/")
    if lower.endswith(".parquet") or (os.path.isdir(path) and not lower.endswith(".jsonl")):
        _check_columns(path, _parquet_columns(path))
        return ray.data.read_parquet(path, num_cpus=0)
    if lower.endswith(".jsonl"):
        _check_columns(path, _jsonl_columns(path))
        return ray.data.read_json(path, lines=True, num_cpus=0)
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    pairs = raw if isinstance(raw, list) else raw.get("pairs", [])
    root = "" if isinstance(raw, list) else raw.get("root") or ""
    items = [
        {
            "name": p.get("name") or f"pair{i + 1}",
            "a": os.path.join(root, p["a"]),
            "b": os.path.join(root, p["b"]),
        }
        for i, p in enumerate(pairs)
    ]
    return ray.data.from_items(items)


def _parquet_columns(path: str) -> List[str]:
    import pyarrow.parquet as pq

    first = path
    if os.path.isdir(path):
        files = sorted(n for n in os.listdir(path) if n.endswith(".parquet"))
        if not files:
            raise ValueError(f"{path}: no .parquet files in the folder")
        first = os.path.join(path, files[0])
    return list(pq.read_schema(first).names)


def _jsonl_columns(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return list(json.loads(line))
    return []


def _check_columns(path: str, columns: List[str]) -> None:
    missing = {"name", "a", "b"} - set(columns)
    if missing:
        raise ValueError(f"{path}: the manifest lacks the column(s) {', '.join(sorted(missing))}")


class PairComparer:
    """The actor of :func:`run`: one :class:`spotdiff.Comparer`, built once, compares
    every pair of the batches it is given. Relative paths are joined to ``base``."""

    def __init__(
        self,
        base: str = "",
        model: Optional[str] = None,
        ort_lib: Optional[str] = None,
        options: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.base = base
        self.schema = schema()
        self.comparer = spotdiff.Comparer(model=model, ort_lib=ort_lib, **(options or {}))

    def compare_one(self, name: str, a: str, b: str) -> Dict[str, Any]:
        """One pair's record; a failure is an error record, never an exception."""
        pa, pb = os.path.join(self.base, a), os.path.join(self.base, b)
        start = time.perf_counter()
        row: Dict[str, Any] = {"name": name, "a": pa, "b": pb}
        try:
            r = self.comparer.compare(pa, pb)
            row.update(
                verdict=r.verdict,
                boxes=len(r.boxes),
                report=json.dumps(r.report, separators=(",", ":"), ensure_ascii=False),
                error=None,
            )
        except spotdiff.SpotdiffError as e:
            row.update(verdict=None, boxes=None, report=None, error=str(e))
        except Exception as e:  # a bad pair never fails the job
            row.update(verdict=None, boxes=None, report=None, error=f"{type(e).__name__}: {e}")
        row["ms"] = round((time.perf_counter() - start) * 1e4) / 10
        return row

    def __call__(self, batch: Dict[str, np.ndarray]) -> "pyarrow.Table":
        import pyarrow as pa

        rows = [
            self.compare_one(str(n), str(a), str(b))
            for n, a, b in zip(batch["name"], batch["a"], batch["b"])
        ]
        return pa.table({c: [r[c] for r in rows] for c in COLUMNS}, schema=self.schema)


def run(
    manifest: str,
    output: str,
    *,
    workers: int = 2,
    cpus_per_worker: float = 1,
    batch_size: int = 8,
    output_format: Optional[str] = None,
    model: Optional[str] = None,
    ort_lib: Optional[str] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Compares every pair of ``manifest`` on the Ray cluster this process is connected
    to (``ray.init`` first; a local one is started if none is) and writes one record
    per pair to the folder ``output``, as Parquet or JSON Lines files
    (``output_format``: ``"parquet"`` or ``"jsonl"``; default from the folder's name,
    ``.jsonl`` gives JSON Lines, anything else Parquet).

    ``workers`` actors, each holding one Comparer (``model``, ``ort_lib`` and the
    comparison ``options`` as :class:`spotdiff.Comparer` takes them) and
    ``cpus_per_worker`` CPUs; ``batch_size`` pairs per call. Returns a summary:
    ``pairs``, ``different``, ``failed``, ``seconds``, ``pairs_per_second``.
    """
    unknown = set(options) - set(spotdiff.OPTION_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    fmt = output_format or ("jsonl" if output.rstrip("/").lower().endswith(".jsonl") else "parquet")
    if fmt not in ("parquet", "jsonl"):
        raise ValueError(f'output_format is "parquet" or "jsonl", not {fmt!r}')
    # Fail fast, in the driver, on options the actors would refuse.
    spotdiff._spotdiff.Options(**spotdiff._native_kw({**spotdiff.OPTION_DEFAULTS, **options}))
    if not ray.is_initialized():
        ray.init()
    start = time.perf_counter()
    base = os.path.dirname(os.path.abspath(manifest)) if not os.path.isdir(manifest) else manifest
    threads = max(1, int(cpus_per_worker))
    results = read_manifest(manifest).map_batches(
        PairComparer,
        fn_constructor_kwargs={
            "base": base,
            "model": model,
            "ort_lib": ort_lib,
            "options": options,
        },
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=workers,
        num_cpus=cpus_per_worker,
        runtime_env={"env_vars": {"RAYON_NUM_THREADS": str(threads)}},
    )
    # Writing asks for no CPU either (see read_manifest).
    if fmt == "parquet":
        results.write_parquet(output, ray_remote_args={"num_cpus": 0})
    else:
        results.write_json(output, ray_remote_args={"num_cpus": 0})
    seconds = time.perf_counter() - start
    summary = summarize(read_results(output, columns=["verdict", "error"]))
    summary["seconds"] = round(seconds, 3)
    summary["pairs_per_second"] = round(summary["pairs"] / seconds, 3) if seconds > 0 else None
    return summary


def read_results(output: str, columns: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    """The records :func:`run` wrote to ``output`` (Parquet or JSON Lines files), read
    in this process with pyarrow, sorted by name."""
    import pyarrow.dataset as pads

    names = sorted(os.listdir(output))
    files = [os.path.join(output, n) for n in names if n.endswith(".parquet")]
    if files:
        table = pads.dataset(files, format="parquet").to_table(columns=columns)
        rows = table.to_pylist()
    else:
        rows = []
        for n in names:
            if n.endswith((".json", ".jsonl")):
                with open(os.path.join(output, n), encoding="utf-8") as f:
                    for line in f:
                        if line.strip():
                            r = json.loads(line)
                            rows.append({c: r.get(c) for c in columns} if columns else r)
    if columns is None or "name" in columns:
        rows.sort(key=lambda r: r["name"])
    return rows


def summarize(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Counts of a run's records: ``pairs``, ``different``, ``failed``."""
    return {
        "pairs": len(rows),
        "different": sum(1 for r in rows if r.get("verdict") == "different"),
        "failed": sum(1 for r in rows if r.get("error")),
    }


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m spotdiff.ray MANIFEST OUTPUT``: exit 0 none differs, 1 at least one
    differs, 2 at least one pair failed (as ``spotdiff batch``)."""
    p = argparse.ArgumentParser(
        prog="python -m spotdiff.ray",
        description="Compare the pairs of a manifest (.jsonl, .parquet or spotdiff's .json) "
        "on a Ray cluster; one record per pair in OUTPUT (a folder of Parquet or JSON Lines files).",
    )
    p.add_argument("manifest")
    p.add_argument("output")
    p.add_argument("--address", help="Ray cluster to join (e.g. auto); default: start a local one")
    p.add_argument("--workers", type=int, default=2, help="actors, each holding one Comparer (2)")
    p.add_argument("--cpus-per-worker", type=float, default=1, help="CPUs per actor (1)")
    p.add_argument("--batch-size", type=int, default=8, help="pairs per actor call (8)")
    p.add_argument("--format", choices=["parquet", "jsonl"], help="output format (default: parquet)")
    p.add_argument("--model", help="backbone: a name, a .json/.onnx path, or none")
    p.add_argument("--ort-lib", help="the ONNX Runtime library")
    for name, default in spotdiff.OPTION_DEFAULTS.items():
        if name == "ignore":
            p.add_argument("--ignore", action="append", metavar="X,Y,W,H", help="never box this rectangle")
        else:
            flag = "--" + name.replace("_", "-")
            kind = int if isinstance(default, int) else str
            p.add_argument(flag, type=kind, default=default, help=f"as spotdiff compare ({default})")
    args = p.parse_args(argv)
    options = {k: getattr(args, k) for k in spotdiff.OPTION_DEFAULTS}
    options["ignore"] = args.ignore or ()
    try:
        if args.address:
            ray.init(address=args.address)
        summary = run(
            args.manifest,
            args.output,
            workers=args.workers,
            cpus_per_worker=args.cpus_per_worker,
            batch_size=args.batch_size,
            output_format=args.format,
            model=args.model,
            ort_lib=args.ort_lib,
            **options,
        )
    except (spotdiff.SpotdiffError, ValueError, OSError) as e:
        print(f"spotdiff.ray: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 2 if summary["failed"] else 1 if summary["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
