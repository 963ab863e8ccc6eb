"""Train edge-digits architectures (search/edge-digits.toml: a 4-block ViT on scikit-learn's
digits, 300 steps) on a device and precision, seed by seed — the search's own training
function (``Task.train``), so a search with ``[training] device = "cuda"`` trains the same way.

    python examples/train_on_device.py OUT.json cpu:fp32 cuda:fp32 cuda:bf16

Each DEVICE:PRECISION trains every architecture with seeds 0–2 and records the held-out
accuracy and seconds; OUT.json holds every run, and the table is printed. Compare devices
seed by seed: the same seed draws the same data, batches and initial weights on every device
(drawn on the CPU, then moved), so a gap between devices is their arithmetic, not the draw.
"""
import json
import statistics
import sys

from attncost.search import load_spec
from attncost.search.tasks import get_task

ARCHS = (("standard",) * 4, ("standard", "efficient", "super", "super"))
SEEDS = (0, 1, 2)


def main(out: str, targets: list[str]) -> None:
    spec = load_spec("search/edge-digits.toml")
    task = get_task(spec.task)
    runs = []
    for target in targets:
        device, precision = target.split(":") if ":" in target else (target, "auto")
        for arch in ARCHS:
            for seed in SEEDS:
                r = task.train(spec.model(arch), spec.task_options, steps=spec.steps,
                               batch=spec.train_batch, lr=spec.lr, seed=seed,
                               eval_every=spec.eval_every, device=device,
                               precision=precision)
                runs.append({"arch": ",".join(arch), "seed": seed, "device": r.device,
                             "precision": r.precision, "accuracy": r.accuracy,
                             "seconds": r.seconds})
                print(f"{r.device:7s} {r.precision:5s} {','.join(arch):34s} seed {seed}: "
                      f"accuracy {r.accuracy:.4f} in {r.seconds:.2f} s", flush=True)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"spec": "search/edge-digits.toml", "runs": runs}, fh, indent=1)
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault((r["device"], r["precision"], r["arch"]), []).append(r)
    for (dev, prec, arch), rs in groups.items():
        print(f"{dev:7s} {prec:5s} {arch:34s} mean accuracy "
              f"{statistics.mean(r['accuracy'] for r in rs):.4f}, median "
              f"{statistics.median(r['seconds'] for r in rs):.2f} s per run")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python examples/train_on_device.py OUT.json DEVICE[:PRECISION]...")
    main(sys.argv[1], sys.argv[2:])
