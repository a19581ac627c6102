// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  A chain of the per-row ops that always follow each other in the attention (spec §3.4-§3.6),
  applied in place to the same rows in this order, so a device runs them as one launch instead
  of one per op (a decode step's graph has a node per launch):

    1. norm: rmsnorm (rmsnorm.h, weight optional, y = x) or the query's head_rmsnorm_bf16,
    2. rope (rope.h, forward) on dims [rope_offset, rope_offset + rope_dim) when positions is set,
    3. hadamard (hadamard.h) of the whole row when hadamard_scale != 0,
    4. fake quantisation (quant.h) of dims [0, quant_dims) in blocks of quant_block.

  The chains of the forward pass: kv rows rmsnorm -> rope -> e4m3; queries head norm -> rope;
  indexer queries rope -> hadamard -> e2m1; compressed entries rmsnorm -> rope -> (hadamard ->
  e2m1 | e4m3). The CPU twin is the single ops run in the same order (Executor::rowChain's
  default); row_chain_cuda gives the same bits (each step is the single kernel's arithmetic).
*/

#include <cstdint>

namespace fathom::kernels {

enum class RowNorm : int32_t { None, Rms, HeadBf16 };
enum class RowQuant : int32_t { None, E4m3, E2m1 };

struct RowChainParams
{
    float *x = nullptr;                   // [rows, dim] bf16-valued (rmsnorm: any fp32), in place
    const float *norm_weight = nullptr;   // RowNorm::Rms: [dim] or nullptr (no weight)
    const int32_t *positions = nullptr;   // rope: [rows / rows_per_position]; nullptr: no rope
    const float *freqs = nullptr;         // rope: [rope_dim / 2] from rope_freqs_cpu
    int rows = 0;
    int dim = 0; // also the row stride
    RowNorm norm = RowNorm::None;
    float eps = 0.0f;
    int rope_offset = 0;
    int rope_dim = 0;
    int rows_per_position = 1;
    float hadamard_scale = 0.0f; // 0: no hadamard; else dim is a power of two <= 4096
    RowQuant quant = RowQuant::None;
    int quant_dims = 0;
    int quant_block = 0;
    int32_t pad_ = 0; // explicit padding (params_padding.cpp)
};

} // namespace fathom::kernels
