// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  LINEAR on Hopper tensor cores (sm_90a, non-exact mode, prefill): the wgmma mainloop of the
  block-scaled GEMM y = x W^T for FP8 (e4m3, 128x128 e8m0 blocks) and FP4 (e2m1, 1x32 e8m0
  blocks) weights, x activation-quantised per 1x128 by linear_mma.cu's pre-pass
  (mma_quant_kernel: the codes and scales sA in the workspace). See linear_wgmma.cuh.

  Numerics: FP8 exactly those of linear_mma.cu's kernels: per 128-deep k block four chained
  wgmma m64n128k32 form the block partial of exact e4m3 code products in the tensor cores' fp32
  accumulator, promoted as acc = fma(partial, sA[row] * sW, acc), in k order. FP4 (1x32 scales
  2^e_j): the four 32-blocks of a 128 block are folded into one partial - each e2m1 code becomes
  the e4m3 code of its value times 2^(e_j - emax) (emax: the column's largest of the four;
  exact while emax - e_j <= 8) and the partial is promoted once with 2^emax. The products are
  the reference's; only the fp32 roundings of the partial sums differ from linear_mma.cu's
  per-32 promotion (within the same derived bound, tst_cuda_ops). A block of the tile with any
  wider spread takes the per-32 path (unscaled conversion, one wgmma and promotion per 32-block:
  linear_mma.cu's numerics). In the emulation each instruction sums exactly and rounds once, as
  the emulated mma.sync does, so FP8 and unfolded FP4 give the same bits as linear_mma.cu there.

  Tiling: 128 rows x 128 columns per block of 256 threads = 2 warpgroups, warpgroup w computing
  rows 64 w .. 64 w + 63 (64 fp32 accumulators + 64 for the block partial per thread); k walked
  in blocks of 128 through k_stages = 3 shared-memory stages filled by cp.async 16-byte copies
  k_stages - 1 blocks ahead (one commit group per block, zero-filled past m / n). A (x codes)
  and B (weight codes) are K-major with 128-byte rows and the 128-byte swizzle (wgmma.cuh:
  1024-byte aligned tiles, SBO = 1024 between 8-row atoms, k32 steps by advancing the start
  address 32 bytes). FP4: the packed e2m1 bytes land in a raw area of the stage; the thread that
  copied a column's 32 bytes (and its own copy of the column's 4 scale bytes) converts them into
  the swizzled B tile after its wait (no barrier needed in between: its own copies), after one
  __syncthreads_or that makes the fold decision block-uniform. Every writing thread then fences
  the async proxy (fence.proxy.async), one barrier per k block (FP4: two), and both warpgroups
  issue their wgmmas. The refill of a stage is issued after the barrier that follows every
  warpgroup's wait_group 0 on it, so no wgmma reads a stage being overwritten.

  Not done yet (next steps, docs/perf/cuda.md "Session 7: wgmma mainloop"): TMA (cp.async.bulk.
  tensor with an mbarrier) and a producer warpgroup instead of cp.async by the consumers; the
  promotion overlapped with the next block's wgmma (two partial register sets, wait_group 1); a
  table-driven e2m1 conversion; vector stores in the epilogue; a persistent grid. NOTE: not yet
  run on a device.
*/
#include "kernels/cuda_ops.h"

#include "async_copy.cuh"
#include "linear_internal.cuh"
#include "linear_wgmma.cuh"
#include "wgmma.cuh"

#include <cstdlib>
#include <cstring>

namespace fathom::kernels::cuda {

namespace {

constexpr int k_bm = k_wgmma_bm;
constexpr int k_bn = 128;
constexpr int k_bk = 128;
constexpr int k_threads = 256;
constexpr int k_stages = 3;
// Stage layout (bytes from the stage's 1024-aligned start).
constexpr int k_off_a = 0;                      // x codes, 128 rows x 128, swizzled
constexpr int k_off_b = k_bm * k_bk;            // weight codes, 128 columns x 128, swizzled
constexpr int k_off_sa = k_off_b + k_bn * k_bk; // sA, 128 floats
constexpr int k_off_raw = k_off_sa + k_bm * 4;  // FP4: packed e2m1, 128 columns x 64
// FP4: e8m0 scales, 4 per column, one copy per thread (thread t: column t / 2), then the per-column
// maximum scale byte of the folded path.
constexpr int k_off_wsc = k_off_raw + k_bn * k_bk / 2;
constexpr int k_off_emax = k_off_wsc + k_threads * 4;
// FP4 folding (linear_internal.cuh: k_fold_max_shift, e2m1_to_e4m3_shifted, convert16).
constexpr int k_stage_fp8 = (k_off_raw + 1023) / 1024 * 1024;         // 33792
constexpr int k_stage_fp4 = (k_off_emax + k_bn + 1023) / 1024 * 1024; // 43008

template<linear_weight_type WType>
constexpr int stage_bytes()
{
    return WType == linear_weight_type::fp8_e4m3 ? k_stage_fp8 : k_stage_fp4;
}

template<linear_weight_type WType>
constexpr int smem_bytes()
{
    return k_stages * stage_bytes<WType>() + 1024; // + slack to align the base to 1024
}

template<linear_weight_type WType>
__global__ void __launch_bounds__(k_threads, 1) wgmma_kernel(wgmma_batch bt)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    constexpr bool fp8 = WType == linear_weight_type::fp8_e4m3;
    constexpr int k_stage = stage_bytes<WType>();
    FATHOM_EXTERN_SHARED(unsigned char, smem_raw);
    const uint32_t raw_addr = wgmma::smem_address(smem_raw);
    const uint32_t base_addr = (raw_addr + 1023u) & ~1023u; // the 128-byte swizzle's pattern
    unsigned char *smem = smem_raw + (base_addr - raw_addr);

    // Row tile -> item (prefix sums of the items' tiles).
    const int tile = static_cast<int>(blockIdx.y);
    int it = 0;
    while (it + 1 < bt.count && bt.items[it + 1].tile0 <= tile)
        ++it;
    const wgmma_item &item = bt.items[it];
    const int m = item.m, n = bt.n, k = bt.k, kb = k / k_bk;
    const int row0 = (tile - item.tile0) * k_bm, col0 = static_cast<int>(blockIdx.x) * k_bn;
    const int tid = static_cast<int>(threadIdx.x);
    const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;
    const int wrow = 64 * (warp >> 2) + 16 * (warp & 3) + g; // this thread's first row in the tile
    const uint8_t *wbase = static_cast<const uint8_t *>(item.w);
    const uint8_t *x = item.q;
    const float *qs = item.qs;

    // Fill stage (b % k_stages) with k block b: thread tid copies 16-byte units tid + 256 u.
    auto issue = [&](int b) {
        unsigned char *st = smem + (b % k_stages) * k_stage;
        const int k0 = b * k_bk;
#pragma unroll
        for (int u = 0; u < k_bm * k_bk / 16 / k_threads; ++u) {
            const int i = tid + u * k_threads, r = i >> 3, c = i & 7;
            const bool ok = row0 + r < m;
            const uint8_t *src = ok ? x + static_cast<int64_t>(row0 + r) * k + k0 + 16 * c : x;
            async::cp_async16(st + k_off_a + wgmma::swizzle128(r, 16 * c), src, ok);
        }
        if (fp8) {
#pragma unroll
            for (int u = 0; u < k_bn * k_bk / 16 / k_threads; ++u) {
                const int i = tid + u * k_threads, r = i >> 3, c = i & 7;
                const bool ok = col0 + r < n;
                const uint8_t *src = ok ? wbase + static_cast<int64_t>(col0 + r) * k + k0 + 16 * c
                                        : wbase;
                async::cp_async16(st + k_off_b + wgmma::swizzle128(r, 16 * c), src, ok);
            }
        } else {
            // Column tid / 2, packed bytes 32 (tid % 2) .. + 31: what this thread converts.
            const int c = tid >> 1, h = tid & 1;
            const bool ok = col0 + c < n;
#pragma unroll
            for (int u = 0; u < 2; ++u) {
                const uint8_t *src = ok ? wbase + static_cast<int64_t>(col0 + c) * (k / 2) + k0 / 2
                                              + 32 * h + 16 * u
                                        : wbase;
                async::cp_async16(st + k_off_raw + 64 * c + 32 * h + 16 * u, src, ok);
            }
        }
        if (tid < k_bm) {
            const bool ok = row0 + tid < m;
            const float *src = ok ? qs + static_cast<int64_t>(row0 + tid) * kb + b : qs;
            async::cp_async4(st + k_off_sa + 4 * tid, src, ok);
        }
        if (!fp8) { // the 4 scale bytes of the column this thread converts, its own copy
            const int c = tid >> 1;
            const bool ok = col0 + c < n;
            const uint8_t *src = ok ? item.w_scale + static_cast<int64_t>(col0 + c) * (k / 32)
                                          + 4 * b
                                    : item.w_scale;
            async::cp_async4(st + k_off_wsc + 4 * tid, src, ok);
        }
    };

    float acc[64], part[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) {
        acc[i] = 0.0f;
        part[i] = 0.0f;
    }

    for (int s = 0; s < k_stages - 1; ++s) {
        if (s < kb)
            issue(s);
        async::cp_async_commit();
    }

    const uint8_t *wsc8 = item.w_scale + (col0 / 128) * kb; // FP8: one scale per k block
    for (int b = 0; b < kb; ++b) {
        async::cp_async_wait<k_stages - 2>(); // this thread's copies of block b have landed
        unsigned char *st = smem + (b % k_stages) * k_stage;
        bool fold = false;
        if (!fp8) {
            const int c = tid >> 1, h = tid & 1;
            // Fold when every column of the tile allows it (block-uniform: one wgmma chain).
            const uint32_t sc = *reinterpret_cast<const uint32_t *>(st + k_off_wsc + 4 * tid);
            uint32_t emax = 0;
#pragma unroll
            for (int j = 0; j < 4; ++j)
                emax = max(emax, (sc >> (8 * j)) & 0xFFu);
            bool wide = false;
#pragma unroll
            for (int j = 0; j < 4; ++j)
                wide = wide || emax - ((sc >> (8 * j)) & 0xFFu) > k_fold_max_shift;
            fold = __syncthreads_or(wide ? 1 : 0) == 0;
            if (h == 0)
                st[k_off_emax + c] = static_cast<uint8_t>(emax);
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                const uint32_t *src = reinterpret_cast<const uint32_t *>(st + k_off_raw + 64 * c
                                                                         + 32 * h + 8 * u);
                const int j = 2 * h + (u >> 1); // the 32-block of these 16 codes
                const int d = fold ? static_cast<int>(emax - ((sc >> (8 * j)) & 0xFFu)) : 0;
                uint32_t out[4];
                convert16(src[0], src[1], d, out);
                uint4 v;
                v.x = out[0];
                v.y = out[1];
                v.z = out[2];
                v.w = out[3];
                *reinterpret_cast<uint4 *>(st + k_off_b + wgmma::swizzle128(c, 64 * h + 16 * u)) = v;
            }
        }
        wgmma::fence_proxy_async(); // this thread's landed copies / stores -> the async proxy
        __syncthreads(); // everyone's; and every warpgroup is done with the stage refilled next
        if (b + k_stages - 1 < kb)
            issue(b + k_stages - 1);
        async::cp_async_commit();

        const float sw8 = fp8 ? e8m0_to_f32(wsc8[b]) : 0.0f;
        const float *sa = reinterpret_cast<const float *>(st + k_off_sa);
        const float sa0 = sa[wrow], sa1 = sa[wrow + 8];
        const uint32_t st_addr = base_addr + static_cast<uint32_t>((b % k_stages) * k_stage);
        const uint64_t da = wgmma::make_desc(st_addr + k_off_a + 64 * (warp >> 2) * 128,
                                             16,
                                             1024,
                                             wgmma::k_swizzle_128b);
        const uint64_t db = wgmma::make_desc(st_addr + k_off_b, 16, 1024, wgmma::k_swizzle_128b);
        if (fp8 || fold) {
            // FP8, or FP4 folded: one 128-deep partial, promoted with sW (FP4: 2^emax per column).
            wgmma::fence();
#pragma unroll
            for (int s = 0; s < 4; ++s) // k32 step s: start address + 32 s (descriptor + 2 s)
                wgmma::mma_m64n128k32_e4m3(part, da + 2 * s, db + 2 * s, s > 0 ? 1 : 0);
            wgmma::commit();
            wgmma::wait<0>();
            wgmma::fence_operand(part);
            if (fp8) {
#pragma unroll
                for (int i = 0; i < 64; ++i)
                    acc[i] = fmaf(part[i], __fmul_rn((i & 2) ? sa1 : sa0, sw8), acc[i]);
            } else {
#pragma unroll
                for (int i = 0; i < 64; ++i) {
                    const int col = 8 * (i >> 2) + 2 * q + (i & 1);
                    const float sw = e8m0_to_f32(st[k_off_emax + col]);
                    acc[i] = fmaf(part[i], __fmul_rn((i & 2) ? sa1 : sa0, sw), acc[i]);
                }
            }
        } else {
            // FP4 with a column whose scales spread more than 2^8: per 32-block promotion.
            const uint8_t *wsc = st + k_off_wsc;
#pragma unroll
            for (int s = 0; s < 4; ++s) {
                wgmma::fence();
                wgmma::mma_m64n128k32_e4m3(part, da + 2 * s, db + 2 * s, 0);
                wgmma::commit();
                wgmma::wait<0>();
                wgmma::fence_operand(part);
#pragma unroll
                for (int i = 0; i < 64; ++i) {
                    const int col = 8 * (i >> 2) + 2 * q + (i & 1);
                    const float sw = e8m0_to_f32(wsc[4 * (2 * col) + s]); // thread 2 col's copy
                    acc[i] = fmaf(part[i], __fmul_rn((i & 2) ? sa1 : sa0, sw), acc[i]);
                }
            }
        }
    }
    async::cp_async_wait<0>(); // only empty groups remain

#pragma unroll
    for (int i = 0; i < 64; ++i) {
        const int64_t row = row0 + wrow + ((i & 2) ? 8 : 0);
        const int64_t col = col0 + 8 * (i >> 2) + 2 * q + (i & 1);
        if (row >= m || col >= n)
            continue;
        const int64_t at = row * bt.ldy + col;
        if (bt.y_type == act_type::bf16)
            static_cast<uint16_t *>(item.y)[at] = f32_to_bf16_bits(acc[i]);
        else
            static_cast<float *>(item.y)[at] = bt.y_round ? round_bf16(acc[i]) : acc[i];
    }
}

// Dynamic shared memory above 48 KiB, granted once per device and kernel.
template<linear_weight_type WType>
bool smem_granted()
{
    static int s_state[64] = {};
    return cuda::once_per_device(s_state, [](int) {
        const cudaError_t err = cuda::allow_smem(wgmma_kernel<WType>, smem_bytes<WType>());
        if (err != cudaSuccess)
            (void) cudaGetLastError();
        return err == cudaSuccess;
    });
}

} // namespace

bool linear_wgmma_available()
{
#ifdef FATHOM_CUDA_EMULATION
    return true;
#elif defined(FATHOM_CUDA_SM90A)
    static int s_state[64] = {};
    return cuda::once_per_device(s_state, [](int dev) {
        cudaDeviceProp prop{};
        return cudaGetDeviceProperties(&prop, dev) == cudaSuccess && prop.major == 9
               && prop.minor == 0;
    });
#else
    return false; // no sm_90a code in this build
#endif
}

bool linear_wgmma_selected(int items, int64_t rows, linear_weight_type w_type)
{
    const char *env = std::getenv("FATHOM_LINEAR_MMA_KERNEL");
    if (env && std::strcmp(env, "mma") == 0)
        return false;
    if (!linear_wgmma_available())
        return false;
    if (env && std::strcmp(env, "wgmma") == 0)
        return true;
#ifdef FATHOM_CUDA_EMULATION
    (void) items;
    (void) rows;
    (void) w_type;
    return false;
#else
    return w_type == linear_weight_type::fp8_e4m3 && items > 0 && rows >= 64LL * items;
#endif
}

Status linear_wgmma_launch(const wgmma_batch &bt, CUstream_st *stream)
{
    if (bt.tiles == 0)
        return Status::success();
    if (bt.w_type != linear_weight_type::fp8_e4m3 && bt.w_type != linear_weight_type::fp4_e2m1)
        return Status::invalid("linear_wgmma: FP8 / FP4 weights only");
    const dim3 grid((bt.n + k_bn - 1) / k_bn, bt.tiles);
    constexpr linear_weight_type F8 = linear_weight_type::fp8_e4m3,
                                 F4 = linear_weight_type::fp4_e2m1;
    if (bt.w_type == F8) {
        if (!smem_granted<F8>())
            return Status::unsupported("linear_wgmma: shared memory attribute refused");
        FATHOM_LAUNCH(grid, k_threads, smem_bytes<F8>(), stream, wgmma_kernel<F8>)(bt);
    } else {
        if (!smem_granted<F4>())
            return Status::unsupported("linear_wgmma: shared memory attribute refused");
        FATHOM_LAUNCH(grid, k_threads, smem_bytes<F4>(), stream, wgmma_kernel<F4>)(bt);
    }
    return launch_status();
}

} // namespace fathom::kernels::cuda
