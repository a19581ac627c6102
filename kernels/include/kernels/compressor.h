// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Compressor pooling (spec §3.6): one compressed entry from the per-token projections of a window.
  For every channel e independently: w = softmax over the window's slots of the gate values
  (fp32, sum rounded once), entry[e] = bf16(Σ w·a). Non-overlapping (HCA): the m tokens of the
  window. Overlapping (CSA, m = 4, per-token width 2·dc): the A halves (channels [0, dc)) of the
  previous window's m tokens and the B halves (channels [dc, 2dc)) of this window's m tokens;
  without a previous window (entry 0) only the B slots take part (A gates are −inf).
  The caller adds the ape bias to the gate rows before pooling, then normalises / rotates /
  fake-quantises the entry.
*/

#include "kernels/status.h"

#include <cstdint>

namespace fathom::kernels {

enum class CompressorOverlap { None, Overlapped };

struct CompressorPoolParams
{
    const float
        *prev_kv; // [ratio, 2*dc] fp32, previous window; may be nullptr (entry 0); Overlapped only
    const float *
        prev_score; // [ratio, 2*dc] fp32 gate (+ape) rows of the previous window; nullptr with prev_kv
    const float *kv = nullptr;    // [ratio, c*dc] fp32 (c = 2 Overlapped, 1 None)
    const float *score = nullptr; // [ratio, c*dc] fp32
    float *out = nullptr;         // [dc] bf16-valued pooled entry
    int ratio = 0;
    int dc = 0;
    CompressorOverlap overlap = CompressorOverlap::None;
    int32_t pad_ = 0; // explicit padding: launch parameters carry no stack bytes (params_padding.cpp)
};

Status compressor_pool_cpu(const CompressorPoolParams &p);
// The same for the channels [e0, e1) of out only (0 <= e0 <= e1 <= dc); every channel is
// computed on its own, so any split gives compressor_pool_cpu's bits.
Status compressor_pool_range_cpu(const CompressorPoolParams &p, int e0, int e1);

} // namespace fathom::kernels
