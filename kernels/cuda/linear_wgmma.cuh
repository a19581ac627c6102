// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  The Hopper (sm_90a) mainloop of the tensor-core LINEAR (linear_wgmma.cu), private to
  kernels/cuda: linear_mma.cu quantises x (mma_quant_kernel, the workspace path) and hands a
  batch of items here when linear_wgmma_selected() says so. Same numerics as linear_mma.cu's
  kernels (block partials of e4m3 code products promoted per weight block as
  acc += partial * (sA * sW), in k order).
*/

#include "kernels/cuda_ops.h"
#include "kernels/linear.h"

#include "cuda_common.cuh"

namespace fathom::kernels::cuda {

constexpr int k_wgmma_bm = 128; // rows per block (2 warpgroups of 64)
constexpr int k_wgmma_max_items = 56;

struct wgmma_item
{
    const uint8_t *q;       // x codes [m, k] (e4m3, activation-quantised)
    const float *qs;        // their scales sA [m, k / 128]
    const void *w;          // weights (FP8 [n, k] / FP4 [n, k / 2])
    const uint8_t *w_scale; // FP8 [ceil(n / 128), k / 128], FP4 [n, k / 32] (e8m0)
    void *y;                // [m, ldy]
    int m;
    int tile0; // first 128-row tile of this item in the launch
};

struct wgmma_batch
{
    wgmma_item items[k_wgmma_max_items];
    int count;
    int tiles;
    int n, k;
    int64_t ldy;
    act_type y_type;
    linear_weight_type w_type;
    int y_round; // linear_params::y_round_bf16
    int pad_;    // keeps the launch's parameter bytes defined
};

// Whether this build has sm_90a code and the current device is sm_90 (queried once per device);
// always true in the emulation.
bool linear_wgmma_available();
// Whether a batch of `items` linears with `rows` rows in all goes to the wgmma kernel:
// FATHOM_LINEAR_MMA_KERNEL=wgmma forces it where available, =mma never; otherwise (auto) on a
// device when available, for FP8 weights, and the items average >= 64 rows; in the emulation
// never (its tests select it explicitly, so the mma.sync tests keep their path). FP4 stays on
// mma.sync in auto: on the H200 (2026-11-30) the FP4 experts ran at 71 TFLOP/s on mma.sync and
// 35 on wgmma, and the wgmma's folded 128-deep FP4 partials moved the tiny-quant model's logits
// 0.135 (mean abs) from the CPU engine's against mma.sync's 0.0002 (docs/perf/cuda.md
// "Session 12").
bool linear_wgmma_selected(int items, int64_t rows, linear_weight_type w_type);
// FP8 / FP4 weights, x pre-quantised; bt.tiles 128-row tiles.
Status linear_wgmma_launch(const wgmma_batch &bt, CUstream_st *stream);

} // namespace fathom::kernels::cuda
