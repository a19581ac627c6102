// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  LINEAR: y[m][j] = sum_k x[m][k] * W[j][k] for a weight W stored [n, k] (PyTorch Linear layout),
  with the reference's numerics per weight type (v4-model-spec.md §2, §6.3; testdata/README.md
  §1.4). Used for every projection of the model.

  Weight types and what is computed:
  - fp8_e4m3 (w [n, k] codes, w_scale [ceil(n/128), ceil(k/128)] e8m0; 128x128 blocks) and
    fp4_e2m1 (w [n, k/2] packed, low nibble = even k; w_scale [n, k/32] e8m0; 1x32 blocks):
    each row of x is first activation-quantised (quant.h act_quant: e4m3, blocks of 128 along k,
    power-of-two scales sA). Then for every weight block b along k (128 for FP8, 32 for FP4) in
    increasing k order: acc = fl32(acc + fl32(sum_{k in b} xq[k] * wq[j][k]) * sA * sW), the block
    sum exact and rounded once (the products and their sum are exact in double). This is the
    order of the TileLang fp8_gemm / fp4_gemm kernels.
  - bf16 (w [n, k] bf16 bits) and f32 (w [n, k] f32): y = fl32(exact sum of x * w); with bf16
    x and w the products are exact and the sum is accumulated in double (exact but for
    pathological exponent spreads), rounded once to fp32. Use these for the plain bf16 linears
    (wo_a after dequantisation, indexer weights_proj: y_type bf16) and the fp32 linears
    (compressor wkv/wgate, MoE gate, head: x bf16 or f32, y_type f32; mHC hc_*_fn: w f32).
  - y_type bf16 rounds the fp32 result once to nearest even; y_type f32 stores it.

  accum = fp32 (faster): fp32 sums in an unspecified order instead of exact block sums. What it
  guarantees, with B the block length (128 FP8, 32 FP4, k for bf16 / f32), nb the number of
  blocks and u = 2^-24:
      |y - y_exact| <= (B + 2 nb + 4) * u * sum_k |x'[k]| * |w'[j][k]|     (to first order)
  before the y_type bf16 rounding (then one more bf16 rounding), where x' is x after activation
  quantisation (xq * sA) and w' the dequantised weight (a NaN or infinity where the exact
  result has one). With bf16 x and bf16 w, inputs and products below 2^-126 may be flushed
  to zero. The result is deterministic for a given CPU feature set, shape and thread count, but
  not bit-identical across CPU features or to linear_ref's fp32 mode.
  On AVX-512 BF16 CPUs (cpu_has_avx512_bf16()) it has the reference's tensor-core structure
  (§6.3): for FP8/FP4 weights, per weight block the sum of the code products
  sum_{k in b} xq[k] * wq[j][k] (each exact) is added up in fp32 in an unspecified order, then
  acc = fl32(acc + block * (sA * sW)) (fused) in increasing block order; bf16 x against bf16 w is
  one fp32 sum of the exact products. The GEMM (m >= 4) is linear_bf16dot.cpp (vdpbf16ps); it
  gives the same bits for any thread count and any m (a row's sums never depend on other rows).
  The GEMV (m = 1..3, decode; linear_bf16dot_gemv.cpp) streams each weight byte once at the
  memory bandwidth; it keeps a block's partial sums in 16 vector lanes, scales and accumulates
  each lane over the blocks and adds the lanes at the end (within the same bound); BF16 weights
  there are widened to fp32 and FMA'd against x (bf16 or f32, nothing flushed).
  Elsewhere it is plain fp32 FMA accumulation of x' * w' (within the same bound). Default exact.

  Shapes: FP4 needs k % 32 == 0; all other shapes are free (partial FP8 blocks use the same block
  index). x and y must not overlap. Rows of x / y are ldx / ldy elements apart (0 = packed).

  linear_ref: scalar reference, one thread. linear_cpu: AVX2+FMA code when the CPU has it
  (cpu_features.h; FATHOM_DISABLE_AVX2=1 forces the portable path), split over output columns
  (and rows of x for large m) on `pool` (may be nullptr). In exact mode linear_cpu returns
  bit-identical results to linear_ref for any thread count. Thread-safe; no allocation for m = 1
  except a small per-call stack buffer for the quantised activations.
*/

#include "kernels/parallel.h"
#include "kernels/status.h"

#include <cstdint>

namespace fathom::kernels {

enum class linear_weight_type { bf16, f32, fp8_e4m3, fp4_e2m1 };
enum class act_type { bf16, f32 };
enum class linear_accum { exact, fp32 };

struct linear_params
{
    const void *x = nullptr; // [m, k] row stride ldx; bf16 bits (uint16_t) or f32 per x_type
    act_type x_type = act_type::bf16;
    int32_t pad0_ = 0;                // explicit padding (params_padding.cpp)
    int64_t ldx = 0;                  // elements between rows of x; 0 = k
    const void *w = nullptr;          // [n, k] bf16/f32/e4m3, or [n, k/2] packed e2m1 bytes
    const uint8_t *w_scale = nullptr; // fp8: [ceil(n/128), ceil(k/128)]; fp4: [n, k/32]; else nullptr
    linear_weight_type w_type = linear_weight_type::bf16;
    int32_t pad1_ = 0;
    void *y = nullptr; // [m, n] row stride ldy; bf16 bits or f32 per y_type
    act_type y_type = act_type::bf16;
    // Device kernels only (linear_cuda and the other cuda_ops.h LINEARs; the CPU kernels ignore
    // it): with y_type f32, nonzero rounds each result once to nearest even bf16 and stores that
    // value as fp32 (the executors' LinearOutput::Bf16 in the GEMM epilogue: the same bits as a
    // round_bf16 pass over y afterwards). Fills the struct's padding (params_padding.cpp).
    int32_t y_round_bf16 = 0;
    int64_t ldy = 0; // elements between rows of y; 0 = n
    int m = 0, n = 0, k = 0;
    linear_accum accum = linear_accum::exact;
};

Status linear_ref(const linear_params &p);
Status linear_cpu(const linear_params &p, parallel_runner *pool);
// The portable (non-AVX2) fast path, for tests of the dispatch.
Status linear_cpu_portable(const linear_params &p, parallel_runner *pool);
// linear_cpu without the AVX-512 loops (cpu_has_avx512()), for tests of the AVX2 kernels on
// machines that have both.
Status linear_cpu_avx2(const linear_params &p, parallel_runner *pool);
// linear_cpu with the AVX-512 loops but without the VNNI FP4 GEMM (the double GEMM instead),
// for tests and benchmarks comparing the two.
Status linear_cpu_avx512_no_vnni(const linear_params &p, parallel_runner *pool);

// Bytes of weights (and scales) one call streams: for bandwidth figures.
int64_t linear_weight_bytes(linear_weight_type type, int64_t n, int64_t k);

} // namespace fathom::kernels
