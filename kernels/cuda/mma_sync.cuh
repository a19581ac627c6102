// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Warp-level tensor-core MMA wrappers (mma.sync), private to kernels/cuda.

    m16n8k32_e4m3: D(16x8, f32) = A(16x32, e4m3, row) * B(32x8, e4m3, col) + C(16x8, f32)
    m16n8k16_bf16: D(16x8, f32) = A(16x16, bf16, row) * B(16x8, bf16, col) + C(16x8, f32)

  Every lane of the warp must call them together (all 32 lanes, converged). Register fragments
  are the PTX ISA's ("Matrix Fragments for mma.m16n8k32" / "mma.m16n8k16", floating point
  types). With g = lane >> 2 (groupID) and t = lane & 3 (threadID_in_group); element j of a
  32-bit register is its byte j (e4m3) or half j (bf16), low to high:

    e4m3 m16n8k32            row (m)       k (A col / B row)
      a[0]  (a0..a3)         g             4t + j
      a[1]  (a4..a7)         g + 8         4t + j
      a[2]  (a8..a11)        g             4t + j + 16
      a[3]  (a12..a15)       g + 8         4t + j + 16
      b[0]  (b0..b3)         n = g         4t + j
      b[1]  (b4..b7)         n = g         4t + j + 16

    bf16 m16n8k16
      a[0]  (a0,a1)          g             2t + j
      a[1]  (a2,a3)          g + 8         2t + j
      a[2]  (a4,a5)          g             2t + j + 8
      a[3]  (a6,a7)          g + 8         2t + j + 8
      b[0]  (b0,b1)          n = g         2t + j
      b[1]  (b2,b3)          n = g         2t + j + 8

    C / D (both shapes, f32)
      c[0], c[1]             row g,     n = 2t, 2t + 1
      c[2], c[3]             row g + 8, n = 2t, 2t + 1

  So a lane's A registers are 4 (2) consecutive k of one row, and its B registers 4 (2)
  consecutive k of one column: a row-major A tile and a row-major W tile (n rows of k, as the
  weights are stored: y = x W^T) both load with 32-bit reads.

  Device: inline PTX mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 where __CUDA_ARCH__ >=
  890 (Ada, Hopper) and mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 where >= 800. Below
  those a warp-shuffle fallback computes the same products in fp32 FMAs (slow, for portability
  only: the GEMM dispatch sends such devices to the SIMT kernels and never relies on it).

  Emulation (FATHOM_CUDA_EMULATION): a warp collective (emu::warp_collective) computes every
  lane's D from the 32 lanes' fragments with the table above: e4m3/bf16 decoded exactly, the
  products exact in double, each output's 32 (16) products and C summed in double and rounded
  once to fp32. Real tensor cores round/truncate their internal sums differently (Hopper's FP8
  path keeps fewer accumulator bits), so tests compare against host products with tolerances,
  never bit for bit.
*/

#include "cuda_common.cuh"

#include <cstdint>

namespace fathom::kernels::cuda::mma {

// The store half of a batched tile staging (attention's kv tile, the indexer's key tile): batch b
// of this thread holds the two bf16x2 words of quad i = i0 + b * blockDim.x (row i / quads, dims
// 4 (i % quads) ..), loaded before any store so the loads overlap; quads past `total` are skipped.
template<int Batch>
__device__ __forceinline__ void store_staged_quads(
    uint32_t *tile, int row_w, const uint32_t (&w)[Batch][2], int i0, int quads, int total)
{
#pragma unroll
    for (int b = 0; b < Batch; ++b) {
        const int i = i0 + b * blockDim.x;
        const int s = i / quads, d4 = i % quads;
        if (i < total) {
            tile[s * row_w + 2 * d4] = w[b][0];
            tile[s * row_w + 2 * d4 + 1] = w[b][1];
        }
    }
}

#ifdef FATHOM_CUDA_EMULATION

namespace emu_detail {

struct lane_operands
{
    const uint32_t *a;
    const uint32_t *b;
    const float *c;
    float *d;
};

inline double e4m3_value(uint32_t code)
{
    const uint32_t e = (code >> 3) & 0xFu, m = code & 7u;
    double v = e == 0 ? std::ldexp(static_cast<double>(m), -9)
                      : std::ldexp(static_cast<double>(8u | m), static_cast<int>(e) - 10);
    if (e == 15 && m == 7)
        v = std::nan("");
    return (code & 0x80u) ? -v : v;
}

inline double bf16_value(uint32_t bits)
{
    return static_cast<double>(bf16_bits_to_f32(static_cast<uint16_t>(bits)));
}

// Element (row, k) of A and (k, n) of B as the fragment table places them. kpr: elements per
// 32-bit register (4 for e4m3, 2 for bf16); K: the shape's k (32 or 16).
template<int kpr>
void gather(void *const lanes[32], double A[16][32], double B[32][8])
{
    constexpr int half = kpr * 4; // k offset of the second register pair (16 or 8)
    for (int lane = 0; lane < 32; ++lane) {
        const auto *o = static_cast<const lane_operands *>(lanes[lane]);
        const int g = lane >> 2, t = lane & 3;
        for (int r = 0; r < 4; ++r)
            for (int j = 0; j < kpr; ++j) {
                const int row = g + ((r & 1) ? 8 : 0);
                const int k = kpr * t + j + ((r & 2) ? half : 0);
                const uint32_t bits = kpr == 4 ? (o->a[r] >> (8 * j)) & 0xFFu
                                               : (o->a[r] >> (16 * j)) & 0xFFFFu;
                A[row][k] = kpr == 4 ? e4m3_value(bits) : bf16_value(bits);
            }
        for (int r = 0; r < 2; ++r)
            for (int j = 0; j < kpr; ++j) {
                const int k = kpr * t + j + (r ? half : 0);
                const uint32_t bits = kpr == 4 ? (o->b[r] >> (8 * j)) & 0xFFu
                                               : (o->b[r] >> (16 * j)) & 0xFFFFu;
                B[k][g] = kpr == 4 ? e4m3_value(bits) : bf16_value(bits);
            }
    }
}

template<int kpr>
void collective(void *const lanes[32])
{
    constexpr int K = kpr * 8;
    double A[16][32] = {}, B[32][8] = {};
    gather<kpr>(lanes, A, B);
    float out[32][4];
    for (int lane = 0; lane < 32; ++lane) {
        const auto *o = static_cast<const lane_operands *>(lanes[lane]);
        const int g = lane >> 2, t = lane & 3;
        for (int i = 0; i < 4; ++i) {
            const int row = g + (i >= 2 ? 8 : 0), n = 2 * t + (i & 1);
            double s = static_cast<double>(o->c[i]);
            for (int k = 0; k < K; ++k)
                s += A[row][k] * B[k][n];
            out[lane][i] = static_cast<float>(s);
        }
    }
    // Written after every lane's C was read: d may alias c (the usual d = a*b + d).
    for (int lane = 0; lane < 32; ++lane) {
        const auto *o = static_cast<const lane_operands *>(lanes[lane]);
        for (int i = 0; i < 4; ++i)
            o->d[i] = out[lane][i];
    }
}

} // namespace emu_detail

__device__ inline void m16n8k32_e4m3(float d[4],
                                     const uint32_t a[4],
                                     const uint32_t b[2],
                                     const float c[4])
{
    emu_detail::lane_operands o{a, b, c, d};
    ::emu::warp_collective(&o, &emu_detail::collective<4>);
}

__device__ inline void m16n8k16_bf16(float d[4],
                                     const uint32_t a[4],
                                     const uint32_t b[2],
                                     const float c[4])
{
    emu_detail::lane_operands o{a, b, c, d};
    ::emu::warp_collective(&o, &emu_detail::collective<2>);
}

#else // device

namespace detail {

// Shuffle fallback (architectures without the instruction): lane (g, t) gathers rows g and g + 8
// of A and columns 2t, 2t + 1 of B, 4 register pairs at a time, and sums in fp32.
template<int kpr>
__device__ inline float dot_reg(uint32_t x, uint32_t y)
{
    float s = 0.0f;
    for (int j = 0; j < kpr; ++j) {
        float xv, yv;
        if (kpr == 4) {
            xv = e4m3_to_f32((x >> (8 * j)) & 0xFFu);
            yv = e4m3_to_f32((y >> (8 * j)) & 0xFFu);
        } else {
            xv = bf16_bits_to_f32(static_cast<uint16_t>(x >> (16 * j)));
            yv = bf16_bits_to_f32(static_cast<uint16_t>(y >> (16 * j)));
        }
        s += xv * yv;
    }
    return s;
}

template<int kpr>
__device__ inline void mma_fallback(float d[4],
                                    const uint32_t a[4],
                                    const uint32_t b[2],
                                    const float c[4])
{
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const int g = lane >> 2, t = lane & 3;
    float acc[4] = {c[0], c[1], c[2], c[3]};
    for (int tp = 0; tp < 4; ++tp) {
        uint32_t ar[4], b0[2], b1[2];
        for (int r = 0; r < 4; ++r)
            ar[r] = __shfl_sync(0xFFFFFFFFu, a[r], g * 4 + tp);
        for (int r = 0; r < 2; ++r) {
            b0[r] = __shfl_sync(0xFFFFFFFFu, b[r], (2 * t) * 4 + tp);
            b1[r] = __shfl_sync(0xFFFFFFFFu, b[r], (2 * t + 1) * 4 + tp);
        }
        // a[0]/a[2]: row g (k low/high half), a[1]/a[3]: row g + 8; b[0]/b[1]: k low/high.
        acc[0] += dot_reg<kpr>(ar[0], b0[0]) + dot_reg<kpr>(ar[2], b0[1]);
        acc[1] += dot_reg<kpr>(ar[0], b1[0]) + dot_reg<kpr>(ar[2], b1[1]);
        acc[2] += dot_reg<kpr>(ar[1], b0[0]) + dot_reg<kpr>(ar[3], b0[1]);
        acc[3] += dot_reg<kpr>(ar[1], b1[0]) + dot_reg<kpr>(ar[3], b1[1]);
    }
    for (int i = 0; i < 4; ++i)
        d[i] = acc[i];
}

} // namespace detail

__device__ __forceinline__ void m16n8k32_e4m3(float d[4],
                                              const uint32_t a[4],
                                              const uint32_t b[2],
                                              const float c[4])
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]),
                   "r"(a[1]),
                   "r"(a[2]),
                   "r"(a[3]),
                   "r"(b[0]),
                   "r"(b[1]),
                   "f"(c[0]),
                   "f"(c[1]),
                   "f"(c[2]),
                   "f"(c[3]));
#else
    detail::mma_fallback<4>(d, a, b, c);
#endif
}

__device__ __forceinline__ void m16n8k16_bf16(float d[4],
                                              const uint32_t a[4],
                                              const uint32_t b[2],
                                              const float c[4])
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]),
                   "r"(a[1]),
                   "r"(a[2]),
                   "r"(a[3]),
                   "r"(b[0]),
                   "r"(b[1]),
                   "f"(c[0]),
                   "f"(c[1]),
                   "f"(c[2]),
                   "f"(c[3]));
#else
    detail::mma_fallback<2>(d, a, b, c);
#endif
}

#endif // FATHOM_CUDA_EMULATION

// ---- operand helpers shared by the tensor-core kernels ----------------------------------------

// bf16(lo) | bf16(hi) << 16, round to nearest even. On sm_80+ one cvt.rn.bf16x2.f32 (its first
// source lands in the upper half) instead of ~8 integer operations per value: the conversions
// and the epilogue's roundings would otherwise cost more issue slots than the mma itself. NaN
// becomes the canonical NaN there (payloads differ from cuda::f32_to_bf16_bits; still NaN).
__device__ inline uint32_t pack_bf16(float lo, float hi)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    uint32_t r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#else
    return static_cast<uint32_t>(cuda::f32_to_bf16_bits(lo))
           | (static_cast<uint32_t>(cuda::f32_to_bf16_bits(hi)) << 16);
#endif
}

// x = bf16(x), y = bf16(y) (as floats), through one pack.
__device__ inline void round_bf16x2(float &x, float &y)
{
    const uint32_t r = pack_bf16(x, y);
    x = __uint_as_float(r << 16);
    y = __uint_as_float(r & 0xFFFF0000u);
}

// Four consecutive floats, one 16-byte load on the device (src 16-byte aligned: the callers'
// launchers check their base pointers and strides).
__device__ inline void load_f32x4(const float *src, float *dst)
{
#ifdef FATHOM_CUDA_EMULATION
    dst[0] = src[0];
    dst[1] = src[1];
    dst[2] = src[2];
    dst[3] = src[3];
#else
    const float4 v = *reinterpret_cast<const float4 *>(src);
    dst[0] = v.x;
    dst[1] = v.y;
    dst[2] = v.z;
    dst[3] = v.w;
#endif
}

inline bool aligned16(const void *p)
{
    return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

} // namespace fathom::kernels::cuda::mma
