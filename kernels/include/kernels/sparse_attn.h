// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Sparse MQA attention with an attention sink (spec §3.8, the reference's sparse_attn kernel).
  Per query row and head h, over the gathered keys j (K = V, one shared head):
      z_j = scale · (q_h · kv_j)                (fp32)
      o_h = Σ_j bf16(exp(z_j − M)) kv_j / (Σ_j exp(z_j − M) + exp(σ_h − M))
  computed as an online softmax over blocks of 64 indices (running max rescale), probabilities
  rounded to bf16 before the P·V product, denominators in fp32, output bf16. Index −1 is skipped.
  The sink enlarges the denominator only.
*/

#include "kernels/rope.h"
#include "kernels/status.h"

#include <cstdint>

namespace fathom::kernels {

struct SparseAttnParams
{
    const float *q = nullptr;  // [n_q, n_heads, head_dim] bf16-valued
    const float *kv = nullptr; // [n_kv, head_dim] bf16-valued key/value pool
    const float *kv_ext
        = nullptr; // [n_kv_ext, head_dim] second pool: index n_kv + i is row i of kv_ext;
                   // may be nullptr (the compressed entries next to the window rows)
    // The pools as bf16 bits instead (CUDA only: a device sequence state stores its window rows
    // and compressed entries in bf16, losslessly). When set, kv / kv_ext are not read.
    const uint16_t *kv_bf16 = nullptr;
    const uint16_t *kv_ext_bf16 = nullptr;
    // Or as packed rows (CUDA only, the default device state since session 8: e4m3 nope dims,
    // bf16 RoPE dims, E8M0 scales; kernels/kv_packed.h, packed_row_bytes(head_dim, kv_rope)
    // bytes a row), dequantised while staged (exact). When set, kv / kv_ext / *_bf16 are not read.
    const uint8_t *kv_packed = nullptr;
    const uint8_t *kv_ext_packed = nullptr;
    const int32_t *idx = nullptr; // [n_q, n_idx] rows of kv to attend, −1 = none
    const float *sink = nullptr;  // [n_heads] fp32 sink logits
    float *out = nullptr;         // [n_q, n_heads, head_dim] bf16-valued
    int n_q = 0;
    int n_heads = 0;
    int head_dim = 0;
    int n_kv = 0;
    int n_kv_ext = 0;
    int n_idx = 0;
    float scale = 1.0f; // softmax scale, head_dim^-1/2
    int block = 64;     // online-softmax block (indices per block)
    int kv_rope = 0;    // RoPE dims of a packed row (the last ones; qk_rope_head_dim)
    int32_t pad_ = 0;   // explicit padding (params_padding.cpp)
    // Optional inverse RoPE of the output (the attention's tail; CUDA launchers only, the
    // CPU kernels here ignore it and CpuExecutor::sparseAttention runs its rope() after them):
    // when out_rope_positions is set, every head's last out_rope_dim dims of output row t are
    // rotated by rope Inverse at position out_rope_positions[t] with out_rope_freqs (rope.h),
    // the bits of a separate rope of the stored output.
    const int32_t *out_rope_positions = nullptr; // [n_q]
    const float *out_rope_freqs = nullptr;       // [out_rope_dim / 2]
    int out_rope_dim = 0;
    int32_t pad2_ = 0; // explicit padding (params_padding.cpp)
};

// The output's inverse RoPE of p (out_rope_positions set) as a separate rope op, and p without it.
inline RopeParams sparse_attn_out_rope(const SparseAttnParams &p)
{
    RopeParams r;
    r.x = p.out;
    r.positions = p.out_rope_positions;
    r.freqs = p.out_rope_freqs;
    r.rows = p.n_q * p.n_heads;
    r.row_stride = p.head_dim;
    r.offset = p.head_dim - p.out_rope_dim;
    r.rope_dim = p.out_rope_dim;
    r.rows_per_position = p.n_heads;
    r.direction = RopeDirection::Inverse;
    return r;
}
inline SparseAttnParams sparse_attn_without_out_rope(SparseAttnParams p)
{
    p.out_rope_positions = nullptr;
    p.out_rope_freqs = nullptr;
    p.out_rope_dim = 0;
    return p;
}

Status sparse_attn_cpu(const SparseAttnParams &p);
// The same computation one head at a time (the straightforward loop): sparse_attn_cpu must
// give the same bits (tests/engine/tst_forwardops).
Status sparse_attn_ref(const SparseAttnParams &p);
// The same attention with fp32 sums in an unspecified order (CpuExecutor without exact
// linears): scores fp32, probabilities rounded to bf16 before P·V, P·V and denominators fp32,
// the same online-softmax blocks, exponentials to ~2 ulp. AVX-512 over heads and dims; without
// AVX-512 it runs sparse_attn_cpu (exact sums are one admissible order).
Status sparse_attn_fast_cpu(const SparseAttnParams &p);

} // namespace fathom::kernels
