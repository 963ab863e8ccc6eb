"""Models outside every held-out set (bert-base, roberta-base and phi-2 new; Qwen2.5-0.5B and
TinyLlama also in examples/latency_unseen.py): predicted vs measured, raw and × the
speed factor re-timed just before each, 1 thread, infer and train."""
from attncost.config import preset
from attncost.latency import drift
from attncost.latency.measure import measure_latency, predicted_latency
from attncost.latency.profile import load_profile

prof = load_profile('reports/latency-cpu-profile.json')
cases = [("bert-base 2 blocks l64", preset("bert-base", layers=2, seq_len=64, batch=1)),
         ("roberta-base 2 blocks l32 b2", preset("roberta-base", layers=2, seq_len=32, batch=2)),
         ("qwen2.5-0.5b 2 blocks l16", preset("qwen2.5-0.5b", layers=2, seq_len=16, batch=1)),
         ("phi-2 1 block l16", preset("phi-2", layers=1, seq_len=16, batch=1)),
         ("tinyllama 2 blocks l32", preset("tinyllama-1.1b-chat-v1.0", layers=2, seq_len=32, batch=1))]
raw = cor = n = 0
for name, m in cases:
    for mode in ("infer", "train"):
        f = drift.speed_factor(prof, 1)
        meas = measure_latency(m, mode=mode, threads=1)
        meas = meas[0] if isinstance(meas, tuple) else meas
        pred = predicted_latency(m, prof, mode, threads=1)
        e, ec = pred / meas - 1, pred * f / meas - 1
        raw += abs(e) <= .15; cor += abs(ec) <= .15; n += 1
        print(f"{name:32} {mode:5} measured {meas*1e3:9.2f} ms  predicted {pred*1e3:9.2f} ms  "
              f"error {e:+6.1%}  factor {f:.2f}  corrected {ec:+6.1%}", flush=True)
print(f"within ±15 %: raw {raw}/{n}, corrected {cor}/{n}")
