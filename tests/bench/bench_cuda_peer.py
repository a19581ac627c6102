#!/usr/bin/env python3
# Copyright (C) 2026 Fathom contributors
# SPDX-License-Identifier: MIT
"""The peer of bench_cuda (issue 5): HuggingFace transformers' DeepSeek-V4 model on the same
flash-slice config (config.json written by bench_cuda), random bf16 weights, batch-1 prefill and
decode tokens/s. Prints '| ... |' rows; says so plainly when this transformers has no DeepSeek-V4.
Run by tests/gpu/run-device-checks.sh; compare with bench_cuda's rows of the same run."""

import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prefill", type=int, default=8192)
    ap.add_argument("--decode-steps", type=int, default=32)
    a = ap.parse_args()

    import torch
    import transformers

    print(f"| transformers | {transformers.__version__} | torch {torch.__version__} |")
    with open(f"{a.model}/config.json") as f:
        cfg_json = json.load(f)
    model_type = cfg_json.get("model_type", "?")
    try:
        cfg = transformers.AutoConfig.from_pretrained(a.model)
    except Exception as e:  # no DeepSeek-V4 in this version
        print(f"| peer | n/a | transformers {transformers.__version__} cannot build "
              f"model_type '{model_type}': {type(e).__name__}: {str(e)[:160]} |")
        return 0
    # Drop the FP8/FP4 quantisation block: the peer runs the same shapes in bf16.
    if hasattr(cfg, "quantization_config"):
        try:
            delattr(cfg, "quantization_config")
        except Exception:
            cfg.quantization_config = None
    try:
        with torch.device("cuda"):
            model = transformers.AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16)
        model.eval()
    except Exception as e:
        print(f"| peer | n/a | building {type(cfg).__name__} failed: {type(e).__name__}: {str(e)[:200]} |")
        return 0

    vocab = cfg.vocab_size
    g = torch.Generator(device="cuda").manual_seed(0)
    ids = torch.randint(0, vocab, (1, a.prefill), device="cuda", generator=g)
    with torch.inference_mode():
        model(ids[:, :256], use_cache=True)  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model(ids, use_cache=True)
        torch.cuda.synchronize()
        pre = time.perf_counter() - t0
        print(f"| peer prefill tokens/s ({a.prefill}) | {a.prefill / pre:.0f} | {pre:.2f} s |")
        past = out.past_key_values
        tok = out.logits[:, -1:].argmax(-1)
        times = []
        for i in range(a.decode_steps + 4):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = model(tok, past_key_values=past, use_cache=True)
            past = out.past_key_values
            tok = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            if i >= 4:
                times.append(time.perf_counter() - t0)
        times.sort()
        step = times[len(times) // 2]
        print(f"| peer decode step (median) | {step * 1e3:.2f} ms | {1 / step:.1f} tokens/s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
