#!/usr/bin/env python3
"""Precision/recall curves from `spotdiff eval --sweep --json FILE`: one small PNG per
method (docs/eval-pr-NAME.png), each with its threshold sweep and the default marked.

Usage: .deps/eval-venv/bin/python scripts/eval/plot-eval.py RESULTS.json OUTDIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    results = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for m in results["methods"]:
        curve = m.get("curve") or []
        fig, ax = plt.subplots(figsize=(3.6, 3.2), dpi=80)
        if curve:
            ax.plot([p["recall"] for p in curve], [p["precision"] for p in curve], "o-", ms=3, lw=1.2)
            for p in curve:
                ax.annotate(f"{p['param']:g}", (p["recall"], p["precision"]), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
        ax.plot([m["recall"]], [m["precision"]], "r*", ms=10, label=f"default F1 {m['f1']:.3f}")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("box recall (IoU ≥ 0.5)", fontsize=8)
        ax.set_ylabel("box precision", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.set_title(f"{m['name']} ({results['manifest']})", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        fig.savefig(out / f"eval-pr-{m['name']}.png")
        plt.close(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
