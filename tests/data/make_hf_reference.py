#!/usr/bin/env python3
"""Reference numbers for tests/test_hf.py, computed with Hugging Face transformers (not
installed in attncost's environment; run once in a separate one):

    python tests/data/make_hf_reference.py

* ``hf_reference_counts.json``: ``num_parameters()`` of the class each shipped config's
  ``architectures[0]`` names, built on the meta device (copied from the staging build that
  produced the presets' sidecars, with the transformers and torch versions).
* ``hf_tiny_reference.json``: for each tiny config of ``hf_tiny_configs.json`` (one per family
  attncost reads), the transformers model's ``num_parameters()`` and the matmul FLOPs torch's
  ``FlopCounterMode`` counts for one forward pass with eager attention (batch 2, 16 tokens;
  ViT: two 32×32 images); mixture-of-experts models with transformers' eager experts (one
  ``F.linear`` per expert on its tokens).
"""
import json
import os
import sys

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH, SEQ = 2, 16


def build(raw, device):
    d = dict(raw)
    cls = getattr(transformers, d["architectures"][0])
    cfg = CONFIG_MAPPING[d.pop("model_type")].from_dict(d)
    cfg._attn_implementation = "eager"
    cfg._experts_implementation = "eager"  # one F.linear per expert (the default may be
    # grouped_mm, an operator FlopCounterMode does not count)
    with torch.device(device):
        return cls._from_config(cfg, attn_implementation="eager")


def main():
    tiny = json.load(open(os.path.join(HERE, "hf_tiny_configs.json")))
    out = {"_about": {"transformers_version": transformers.__version__,
                      "torch_version": torch.__version__, "batch": BATCH, "seq_len": SEQ,
                      "what": "num_parameters() and forward matmul FLOPs (FlopCounterMode, eager "
                              "attention, logits for every token) of the transformers model"}}
    for name, raw in tiny.items():
        torch.manual_seed(0)
        model = build(raw, "cpu").eval()
        if raw["model_type"] == "vit":
            x = torch.randn(BATCH, raw["num_channels"], raw["image_size"], raw["image_size"])
            kw = {"pixel_values": x}
        else:
            kw = {"input_ids": torch.randint(0, raw["vocab_size"], (BATCH, SEQ))}
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(**kw)
        per_op = {str(k): int(v) for k, v in counter.get_flop_counts()["Global"].items()}
        out[name] = {"num_parameters": model.num_parameters(),
                     "flops_fwd_matmul": counter.get_total_flops(), "per_op": per_op}
        print(name, out[name]["num_parameters"], out[name]["flops_fwd_matmul"], per_op)
    with open(os.path.join(HERE, "hf_tiny_reference.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
