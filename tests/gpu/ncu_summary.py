#!/usr/bin/env python3
# Copyright (C) 2026 Fathom contributors
# SPDX-License-Identifier: MIT
"""Per-kernel table of an `ncu --page raw --csv` log of bench_cuda's profiled decode steps
(FATHOM_BENCH_NCU=1: two eager steps; tests/gpu/run-device-checks.sh). For each kernel (by
demangled base name, with its grid and block): launches per step, device time per step, DRAM
bytes read + written per step and the bandwidth that makes, against the copy bandwidth given
(GB/s, read + written). Slowest first; the last row sums the step. With --bw, a second table
splits the step into streaming kernels (>= half the copy bandwidth) and latency-bound ones, with
the time each class loses against the bandwidth (session 16: which lever the decode goals need;
kernels are grouped by name, so one kernel serving large and small shapes lands in one class).

    ncu_summary.py LOG [--steps 2] [--bw 4238]
"""

import argparse
import csv
import re
import sys
from collections import defaultdict


def short(name):
    # "void fathom::kernels::cuda::(anonymous namespace)::gemv_group_kernel<...>(...)" -> gemv_group_kernel<...>
    name = re.sub(r"\(anonymous namespace\)::", "", name)
    # template arguments written as casts, "(fathom::kernels::linear_accum)1" -> "1"
    name = re.sub(r"\([A-Za-z_][A-Za-z_0-9:]*\)(?=-?\w)", "", name)
    base = name.split("(")[0].replace("void ", "")
    for ns in ("fathom::kernels::cuda::", "fathom::kernels::", "fathom::engine::"):
        base = base.replace(ns, "")
    return base.strip()[:70]


def number(text):
    try:
        return float(str(text).replace(",", ""))
    except ValueError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--bw", type=float, default=0.0, help="copy bandwidth, GB/s")
    a = ap.parse_args()

    with open(a.log, newline="", errors="replace") as f:
        lines = [l for l in f if l.startswith('"')]  # ncu's own messages start with ==PROF==
    rows = list(csv.reader(lines))
    if len(rows) < 3:
        print("ncu: no kernel rows in", a.log)
        return 1
    head = rows[0]
    units = rows[1]
    col = {h: i for i, h in enumerate(head)}

    def need(key):
        if key not in col:
            print(f"ncu: no column {key} (have {', '.join(head[:12])} ...)")
            sys.exit(1)
        return col[key]

    kname = need("Kernel Name")
    tcol = need("gpu__time_duration.sum")
    first = 2
    if units[kname]:  # no units row: raw values (time in ns, bytes in bytes)
        units = ["nsecond" if i == tcol else "byte" for i in range(len(head))]
        first = 1
    rcol = col.get("dram__bytes_read.sum")
    wcol = col.get("dram__bytes_write.sum")
    gcol = col.get("launch__grid_size")
    bcol = col.get("launch__block_size")
    regcol = col.get("launch__registers_per_thread")
    tscale = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}.get(units[tcol], 1.0)

    def bytes_of(r, c):
        if c is None:
            return 0.0
        v = number(r[c]) or 0.0
        u = units[c].lower()
        return v * {"byte": 1, "kbyte": 1e3, "mbyte": 1e6, "gbyte": 1e9}.get(u, 1)

    agg = defaultdict(lambda: [0, 0.0, 0.0, "", ""])
    for r in rows[first:]:
        if len(r) < len(head):
            continue
        grid = r[gcol] if gcol is not None else ""
        block = r[bcol] if bcol is not None else ""
        key = short(r[kname])
        e = agg[key]
        e[0] += 1
        e[1] += (number(r[tcol]) or 0.0) * tscale
        e[2] += bytes_of(r, rcol) + bytes_of(r, wcol)
        e[3] = f"{grid}x{block}" + (f" r{r[regcol]}" if regcol is not None else "")
    total_us = sum(e[1] for e in agg.values()) / a.steps
    total_b = sum(e[2] for e in agg.values()) / a.steps
    print(f"| kernel (ncu, per decode step of {a.steps} profiled) | launches | us | DRAM MB | GB/s | % of copy bw | grid x block, regs |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, (n, us, b, shape, _) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
        us /= a.steps
        b /= a.steps
        gbs = b / (us * 1e-6) / 1e9 if us > 0 else 0.0
        pct = f"{100 * gbs / a.bw:.0f}" if a.bw > 0 else "-"
        print(f"| {name} | {n / a.steps:g} | {us:.1f} | {b / 1e6:.2f} | {gbs:.0f} | {pct} | {shape} |")
    gbs = total_b / (total_us * 1e-6) / 1e9 if total_us > 0 else 0.0
    pct = f"{100 * gbs / a.bw:.0f}" if a.bw > 0 else "-"
    print(f"| all kernels | | {total_us:.1f} | {total_b / 1e6:.2f} | {gbs:.0f} | {pct} | |")
    if a.bw > 0 and total_us > 0:
        split(agg, a.steps, a.bw)
    return 0


def split(agg, steps, bw):
    """Where a step's kernel time goes against the copy bandwidth (bw GB/s): the streaming
    kernels (>= half of it) and the latency-bound rest. For each class: time, bytes and the time
    those bytes need at bw; the difference is what the class loses to the weight stream - in the
    streaming kernels the kernels' own rate (kernel work), in the latency-bound ones time when
    DRAM idles (a persistent layer kernel or prefetching later weights during them; ncu runs the
    kernels one at a time, so graph gaps and PDL overlap are not in these figures)."""
    rows = {"streaming (>= 50 % of copy bw)": [0, 0.0, 0.0], "latency-bound (< 50 %)": [0, 0.0, 0.0]}
    for n, us, b, _, _ in agg.values():
        us /= steps
        b /= steps
        rate = b / (us * 1e-6) / 1e9 if us > 0 else 0.0
        r = rows["streaming (>= 50 % of copy bw)" if rate >= 0.5 * bw else "latency-bound (< 50 %)"]
        r[0] += n / steps
        r[1] += us
        r[2] += b
    total_us = sum(r[1] for r in rows.values())
    total_b = sum(r[2] for r in rows.values())
    ideal = total_b / (bw * 1e9) * 1e6
    print()
    print("| kernel class (ncu, per decode step) | launches | us | DRAM MB | us at copy bw | us lost | % of the step's kernel time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (n, us, b) in rows.items():
        at = b / (bw * 1e9) * 1e6
        print(f"| {name} | {n:g} | {us:.1f} | {b / 1e6:.2f} | {at:.1f} | {us - at:.1f} | {100 * us / total_us:.0f} |")
    print(f"| all kernels | | {total_us:.1f} | {total_b / 1e6:.2f} | {ideal:.1f} | {total_us - ideal:.1f} | 100 |")


if __name__ == "__main__":
    sys.exit(main())
