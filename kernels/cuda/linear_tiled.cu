// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  LINEAR for many rows (prefill) and for any shape: a tiled SIMT kernel.

  32×32 output tile per block of 256 threads (2×2 outputs per thread), k walked in steps of 128
  (one activation-quantisation block and, for FP8, one weight block). Each step stages the x rows
  (quantised in place: amax, e8m0 scale, e4m3 codes — as fp32 values for FP8, as 512·x̂ integers
  for FP4) and the decoded weight rows in shared memory (rows padded to 129 words against bank
  conflicts), then every thread forms its block sums exactly (FP8: double; FP4: int32 per 32-block)
  and adds block·(sA·sW) to its fp32 accumulators in k order — the CPU twin's roundings, so the
  result is bit-identical. Dense weights: one double (exact) or fp32 (fp32 mode) sum over k.
  NOTE: this is the portable correctness path. The Hopper path for prefill is a wgmma (QGMMA for
  e4m3) warp-specialised kernel with TMA-fed shared-memory stages that promotes each 128-deep
  block's tensor-core partial to the fp32 accumulator with the scales (DeepGEMM's scheme); it is
  not bit-exact against the CPU and needs a device to validate, so it is not written yet.
*/
#include "kernels/cuda_ops.h"

#include "linear_internal.cuh"

namespace fathom::kernels::cuda {

namespace {

constexpr int k_bm = 32;
constexpr int k_bn = 32;
constexpr int k_ks = 128;
constexpr int k_pad = k_ks + 1;
constexpr int k_threads = 256;

enum class TileKind { Fp8, Fp4, Dense };

template<TileKind Kind, linear_accum Accum>
__global__ void __launch_bounds__(k_threads) tiled_kernel(linear_params p, int64_t ldx, int64_t ldy)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ uint32_t xs[k_bm][k_pad];
    __shared__ uint32_t ws[k_bn][k_pad];
    __shared__ uint8_t sa[k_bm];
    const int m = p.m, n = p.n, k = p.k;
    const int kb = (k + 127) / 128;
    const int row0 = blockIdx.y * k_bm, col0 = blockIdx.x * k_bn;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float acc[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
    double dacc[2][2] = {{0.0, 0.0}, {0.0, 0.0}};

    for (int b = 0; b < kb; ++b) {
        const int k0 = b * k_ks;
        // Stage x: warp w owns rows 4w..4w+3 of the tile.
        for (int rr = 0; rr < k_bm / 8; ++rr) {
            const int r = warp * (k_bm / 8) + rr;
            const int64_t grow = row0 + r;
            float v[4];
            float amax = 0.0f;
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int kk = k0 + lane + 32 * i;
                const bool ok = grow < m && kk < k;
                v[i] = ok ? load_x(p, ldx, grow, kk) : 0.0f;
                if (ok)
                    amax = fmaxf(amax, fabsf(v[i]));
            }
            if (Kind == TileKind::Dense) {
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    xs[r][lane + 32 * i] = __float_as_uint(v[i]);
            } else {
                amax = warp_max(amax);
                const uint8_t s = act_scale(amax);
                const float inv = e8m0_inverse_f32(s);
                if (lane == 0)
                    sa[r] = s;
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const uint8_t q = f32_to_e4m3(__fmul_rn(v[i], inv)); // 0 stays 0
                    xs[r][lane + 32 * i] = Kind == TileKind::Fp8
                                               ? __float_as_uint(e4m3_to_f32(q))
                                               : static_cast<uint32_t>(e4m3_to_int512(q));
                }
            }
        }
        // Stage the weight rows of the tile, decoded.
        for (int i = threadIdx.x; i < k_bn * k_ks; i += k_threads) {
            const int c = i / k_ks, kk = i % k_ks;
            const int64_t j = col0 + c;
            const int64_t gk = k0 + kk;
            uint32_t wv = 0;
            if (j < n && gk < k) {
                switch (p.w_type) {
                case linear_weight_type::fp8_e4m3:
                    wv = __float_as_uint(e4m3_to_f32(static_cast<const uint8_t *>(p.w)[j * k + gk]));
                    break;
                case linear_weight_type::fp4_e2m1: {
                    const uint8_t byte = static_cast<const uint8_t *>(p.w)[j * (k / 2) + gk / 2];
                    wv = static_cast<uint32_t>(
                        e2m1_to_int2x((gk & 1) ? (byte >> 4) : (byte & 0xFu)));
                    break;
                }
                case linear_weight_type::bf16:
                    wv = __float_as_uint(
                        bf16_bits_to_f32(static_cast<const uint16_t *>(p.w)[j * k + gk]));
                    break;
                default:
                    wv = __float_as_uint(static_cast<const float *>(p.w)[j * k + gk]);
                    break;
                }
            }
            ws[c][kk] = wv;
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int r = ty + 16 * i;
#pragma unroll
            for (int cc = 0; cc < 2; ++cc) {
                const int c = tx + 16 * cc;
                const int64_t j = col0 + c;
                if (Kind == TileKind::Fp8) {
                    double bs = 0.0;
                    for (int kk = 0; kk < k_ks; ++kk)
                        bs += static_cast<double>(
                            __fmul_rn(__uint_as_float(xs[r][kk]), __uint_as_float(ws[c][kk])));
                    if (j < n) {
                        const float sc = __fmul_rn(e8m0_to_f32(sa[r]),
                                                   e8m0_to_f32(p.w_scale[(j / 128) * kb + b]));
                        acc[i][cc] = __fadd_rn(acc[i][cc], __fmul_rn(static_cast<float>(bs), sc));
                    }
                } else if (Kind == TileKind::Fp4) {
                    for (int sub = 0; sub < 4 && k0 + sub * 32 < k; ++sub) {
                        int isum = 0;
                        for (int kk = sub * 32; kk < sub * 32 + 32; ++kk)
                            isum += static_cast<int>(xs[r][kk]) * static_cast<int>(ws[c][kk]);
                        if (j < n) {
                            const float sc = __fmul_rn(e8m0_to_f32(sa[r]),
                                                       e8m0_to_f32(
                                                           p.w_scale[j * (k / 32) + b * 4 + sub]));
                            acc[i][cc] = __fadd_rn(acc[i][cc],
                                                   __fmul_rn(__fmul_rn(static_cast<float>(isum),
                                                                       0x1p-10f),
                                                             sc));
                        }
                    }
                } else {
                    for (int kk = 0; kk < k_ks; ++kk) {
                        const float a = __uint_as_float(xs[r][kk]), w = __uint_as_float(ws[c][kk]);
                        if (Accum == linear_accum::exact)
                            dacc[i][cc] += static_cast<double>(a) * static_cast<double>(w);
                        else
                            acc[i][cc] = fmaf(a, w, acc[i][cc]);
                    }
                }
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int64_t row = row0 + ty + 16 * i;
#pragma unroll
        for (int cc = 0; cc < 2; ++cc) {
            const int64_t j = col0 + tx + 16 * cc;
            if (row < m && j < n)
                store_y(p,
                        ldy,
                        row,
                        j,
                        Kind == TileKind::Dense && Accum == linear_accum::exact
                            ? static_cast<float>(dacc[i][cc])
                            : acc[i][cc]);
        }
    }
}

template<TileKind Kind, linear_accum Accum>
Status launch(const linear_params &p, CUstream_st *stream)
{
    const int64_t ldx = p.ldx ? p.ldx : p.k;
    const int64_t ldy = p.ldy ? p.ldy : p.n;
    const dim3 grid((p.n + k_bn - 1) / k_bn, (p.m + k_bm - 1) / k_bm);
    FATHOM_LAUNCH(grid, k_threads, 0, stream, tiled_kernel<Kind, Accum>)(p, ldx, ldy);
    return launch_status();
}

} // namespace

Status linear_tiled_launch(const linear_params &p, CUstream_st *stream)
{
    if ((p.m + k_bm - 1) / k_bm > 65535)
        return Status::unsupported("linear_tiled: more than 2M rows");
    switch (p.w_type) {
    case linear_weight_type::fp8_e4m3:
        return launch<TileKind::Fp8, linear_accum::exact>(p, stream);
    case linear_weight_type::fp4_e2m1:
        return launch<TileKind::Fp4, linear_accum::exact>(p, stream);
    default:
        return p.accum == linear_accum::exact
                   ? launch<TileKind::Dense, linear_accum::exact>(p, stream)
                   : launch<TileKind::Dense, linear_accum::fp32>(p, stream);
    }
}

} // namespace fathom::kernels::cuda
