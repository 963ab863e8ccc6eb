"""Searching with an evaluator attncost does not own: your training script, and a table of
the runs you already have.

attncost supplies the exact costs and the search (which architecture and seed to run next,
re-tests with fresh seeds, the answer certified at 95 % confidence); you supply
``evaluate(architecture, seed) -> accuracy``. Here it reads a CSV of past runs first and only
runs the training command for what is not in it, appending each new run — so an interrupted
search, run again, repeats nothing:

    python tests/examples/blackbox_evaluator.py runs.csv
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

from attncost.config import AttentionConfig, ModelConfig
from attncost.search import blackbox_search, space_for

TRAIN = [sys.executable, str(Path(__file__).with_name("train_script.py"))]


def table_evaluator(table: Path):
    """``evaluate(arch, seed)``: a past run from ``table`` (CSV: layers, seed, accuracy), or a
    new run of the training command, recorded in the table."""
    past = {}
    if table.exists():
        with table.open() as fh:
            past = {(r["layers"], int(r["seed"])): float(r["accuracy"]) for r in csv.DictReader(fh)}

    def evaluate(arch, seed):
        key = (",".join(arch), seed)
        if key not in past:
            out = subprocess.run([*TRAIN, "--layers", key[0], "--seed", str(seed)],
                                 capture_output=True, text=True, check=True)
            past[key] = json.loads(out.stdout)["accuracy"]
            new = not table.exists()
            with table.open("a", newline="") as fh:
                w = csv.writer(fh)
                if new:
                    w.writerow(["layers", "seed", "accuracy"])
                w.writerow([key[0], seed, past[key]])
        return past[key]

    return evaluate


def main(table: str) -> None:
    skeleton = ModelConfig(layers=4, attention=AttentionConfig(d_model=128, heads=4,
                                                               seq_len=1024, batch=4),
                           vocab=1000, max_positions=1024, lm_head=True)
    space = space_for(skeleton, ["standard", "mqa", "efficient", "linear", "kernel-linear"],
                      metric="latency", device="jetson-orin-nano-8gb")
    result = blackbox_search(space, table_evaluator(Path(table)), target=0.9, evaluations=40)
    if result.found:
        lo, hi = result.interval
        print(f"{','.join(result.architecture)}: accuracy {result.accuracy:.3f} "
              f"[{lo:.3f}, {hi:.3f}] over {result.runs} runs, P(≥ 0.9) "
              f"{result.p_meets_target:.3f}; {result.cost * 1e3:.3f} ms; "
              f"{result.evaluations} evaluations")
    else:
        print(f"nothing certified in {result.evaluations} evaluations")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs.csv")
