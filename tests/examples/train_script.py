"""Stands in for a user's own training script (or a remote job): given the layers and a
seed, it "trains" and prints the held-out accuracy as JSON. Here accuracy is a fixed
function of the layers plus seed-dependent noise, so the example runs in a second:

    python tests/examples/train_script.py --layers standard,linear,efficient,linear --seed 0
"""

import argparse
import json
import random

QUALITY = {"standard": 1.0, "mqa": 0.93, "efficient": 0.9, "linear": 0.45,
           "kernel-linear": 0.55}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", required=True)
    ap.add_argument("--seed", type=int, required=True)
    args = ap.parse_args()
    layers = args.layers.split(",")
    first = QUALITY[layers[0]]  # the first layer does the lookup
    rest = sum(QUALITY[v] for v in layers[1:]) / max(1, len(layers) - 1)
    truth = 0.1 + 0.9 * min(1.0, 0.55 * first + 0.5 * rest)
    noise = random.Random(f"{args.layers}:{args.seed}").gauss(0.0, 0.01)
    print(json.dumps({"accuracy": max(0.0, min(1.0, truth + noise))}))


if __name__ == "__main__":
    main()
