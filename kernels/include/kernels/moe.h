// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  MoE routing and the clamped SwiGLU of the experts (spec §3.9).

  moe_route: s_e = sqrt(softplus(ℓ_e)) in fp32 (ℓ = fp32 gate logits). Score-routed layers pick
  the top-k of s_e + bias_e (bias for selection only; ties: lower expert id first); hash layers
  take the experts from their tid2eid row. A caller may force the ids (routing replay). Weights:
  w_j = s_{id_j} / Σ_j' s_{id_j'} · route_scale (no epsilon), paired with the ids in order.

  swiglu: h = bf16(((silu(min(g, limit)) · clamp(u, −limit, limit)) · w), g and u being the
  bf16 outputs of w1 and w3 upcast to fp32, w the routing weight of the row (1 for the shared
  expert): the weight is applied before w2, so it passes through w2's activation quantisation.
*/

#include "kernels/status.h"

#include <cstdint>

namespace fathom::kernels {

struct MoeRouteParams
{
    const float *logits = nullptr;       // [tokens, n_experts] fp32 gate logits
    const float *bias = nullptr;         // [n_experts] fp32 selection bias, may be nullptr
    const int32_t *forced_ids = nullptr; // [tokens, topk] expert ids to use instead of selecting (hash
                                         // layers: tid2eid rows; routing replay), may be nullptr
    float *select_scores = nullptr;      // [tokens, n_experts] s_e + bias_e, may be nullptr
    int32_t *ids = nullptr;              // [tokens, topk]
    float *weights = nullptr;            // [tokens, topk] fp32
    int tokens = 0;
    int n_experts = 0;
    int topk = 0;
    float route_scale = 1.0f;
};

Status moe_route_cpu(const MoeRouteParams &p);

struct SwigluParams
{
    const float *gate = nullptr;        // [rows, inter] bf16-valued output of w1
    const float *up = nullptr;          // [rows, inter] bf16-valued output of w3
    const float *row_weights = nullptr; // [rows] fp32 routing weights, may be nullptr (weight 1)
    float *out = nullptr;               // [rows, inter] bf16-valued input of w2
    int rows = 0;
    int inter = 0;
    float limit = 10.0f; // swiglu_limit; <= 0 disables the clamp
    int32_t pad_ = 0; // explicit padding: launch parameters carry no stack bytes (params_padding.cpp)
};

Status swiglu_cpu(const SwigluParams &p);
// The same in fp32 arithmetic with a vector exp (~2 ulp; the non-exact mode of CpuExecutor).
// Without AVX-512 it runs swiglu_cpu.
Status swiglu_fast_cpu(const SwigluParams &p);

} // namespace fathom::kernels
