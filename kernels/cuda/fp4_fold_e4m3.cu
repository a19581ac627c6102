// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  FP4 weights -> e4m3 codes with 128x128 fp32 block scales (fp4_fold_e4m3.h, ltexperts). One
  block of 256 threads per 128x128 output block: thread t takes row t / 2 of the block and its
  64 columns (t & 1): 32 packed bytes and 2 scale bytes in, 64 codes out (16-byte loads and
  stores). The block's largest scale byte by a block max, Sb = max - 6, each 32-block's codes
  shifted by S - Sb through linear_internal.cuh's e2m1 table (convert16 with a negative shift
  multiplies: e2m1_table's byte arithmetic holds for -6 .. 5, the general form for 6 .. 8).
*/
#include "kernels/fp4_fold_e4m3.h"
#include "kernels/linear_fp8_cublaslt.h"

#include "cuda_common.cuh"
#include "linear_internal.cuh"

#include <algorithm>
#include <cstring>
#include <vector>

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256;

struct fp4_fold_batch
{
    fp4_fold_job job[k_fp4_fold_max_jobs];
    int64_t count = 0;
    int64_t k = 0;
};

// The e4m3 code of e2m1 code c (sign bit 3) times 2^d, -8 <= d <= 6 (host twin; the same
// arithmetic as linear_internal.cuh's e2m1_to_e4m3_shifted(c, -d)).
uint8_t e2m1_times_pow2(uint32_t c, int d)
{
    const uint32_t m = c & 7u;
    const uint32_t sign = (c & 8u) << 4;
    if (m == 0)
        return static_cast<uint8_t>(sign);
    const int x = m <= 1 ? -1 : m <= 3 ? 0 : m <= 5 ? 1 : 2;
    const uint32_t f = (m >= 3 && (m & 1u)) ? 4u : 0u;
    const int e = x + d + 7;
    const uint32_t code = e >= 1 ? (static_cast<uint32_t>(e) << 3) | f : (8u + f) >> (1 - e);
    return static_cast<uint8_t>(code | sign);
}

float pow2_f32(int sb)
{
    // 2^(sb - 127) for 1 <= sb <= 254 (the scan guarantees it).
    const uint32_t bits = static_cast<uint32_t>(sb) << 23;
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

__global__ void __launch_bounds__(k_threads) fp4_fold_kernel(const fp4_fold_batch b)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ float s_max[k_threads / 32];
    const fp4_fold_job &job = b.job[blockIdx.z];
    const int64_t k = b.k;
    const int64_t rb = blockIdx.y, kb = blockIdx.x;
    const int64_t rows0 = job.rows[0], total = rows0 + job.rows[1];
    if (rb * 128 >= total)
        return;
    const int src = rb * 128 >= rows0 ? 1 : 0;
    const int64_t row = rb * 128 + (threadIdx.x >> 1) - (src ? rows0 : 0);
    const int half = threadIdx.x & 1;
    const uint8_t *sp = job.scale[src] + row * (k / 32) + kb * 4 + half * 2;
    const int s0 = sp[0], s1 = sp[1];
    const float bmax = cuda::block_max(static_cast<float>(s0 > s1 ? s0 : s1), s_max);
    const int sb = static_cast<int>(bmax) - 6;
    const uint4 *wp = reinterpret_cast<const uint4 *>(job.w[src] + row * (k / 2) + kb * 64
                                                      + half * 32);
    uint4 *out = reinterpret_cast<uint4 *>(job.codes + (rb * 128 + (threadIdx.x >> 1)) * k
                                           + kb * 128 + half * 64);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const uint4 in = wp[h];               // 32 codes of one 32-block
        const int shift = sb - (h ? s1 : s0); // code value times 2^-shift, -6 .. 8
        uint32_t c[8];
        cuda::convert16(in.x, in.y, shift, c);
        cuda::convert16(in.z, in.w, shift, c + 4);
        out[2 * h] = uint4{c[0], c[1], c[2], c[3]};
        out[2 * h + 1] = uint4{c[4], c[5], c[6], c[7]};
    }
    if (threadIdx.x == 0) {
        const int64_t kblocks = k / 128, l4 = (kblocks + 3) / 4 * 4;
        float *bs = job.blk_scales + rb * l4;
        bs[kb] = __uint_as_float(static_cast<uint32_t>(sb) << 23);
        if (kb == kblocks - 1)
            for (int64_t j = kblocks; j < l4; ++j)
                bs[j] = 0.0f;
    }
}

} // namespace

bool fp4_fold_foldable(const uint8_t *scale, int64_t rows, int64_t k)
{
    if (!scale || rows <= 0 || k <= 0 || rows % 128 != 0 || k % 128 != 0)
        return false;
    const int64_t per = k / 32;
    // Column-wise min / max over a row block (elementwise, vectorisable: the executor scans every
    // FP4 expert weight at upload), then each block's 4 columns.
    std::vector<uint8_t> lo(static_cast<size_t>(per)), hi(lo.size());
    for (int64_t rb = 0; rb < rows; rb += 128) {
        std::fill(lo.begin(), lo.end(), uint8_t(255));
        std::fill(hi.begin(), hi.end(), uint8_t(0));
        for (int64_t r = rb; r < rb + 128; ++r) {
            const uint8_t *row = scale + r * per;
            for (int64_t j = 0; j < per; ++j) {
                lo[j] = row[j] < lo[j] ? row[j] : lo[j];
                hi[j] = row[j] > hi[j] ? row[j] : hi[j];
            }
        }
        for (int64_t kb = 0; kb < per; kb += 4) {
            int l = 255, h = 0;
            for (int64_t j = kb; j < kb + 4; ++j) {
                l = lo[j] < l ? lo[j] : l;
                h = hi[j] > h ? hi[j] : h;
            }
            // Sb = h - 6 must be a normal fp32 exponent; 255 is the NaN scale.
            if (h == 255 || h - 6 < 1 || h - l > k_fp4_fold_max_spread)
                return false;
        }
    }
    return true;
}

Status fp4_fold_e4m3_cpu(const uint8_t *w,
                         const uint8_t *scale,
                         int64_t rows,
                         int64_t k,
                         uint8_t *codes,
                         float *blk_scales)
{
    if (!w || !scale || !codes || !blk_scales || rows <= 0 || k <= 0 || rows % 128 != 0
        || k % 128 != 0)
        return Status::invalid("fp4_fold_e4m3_cpu: rows and k must be positive multiples of 128");
    const int64_t per = k / 32, kblocks = k / 128, l4 = (kblocks + 3) / 4 * 4;
    for (int64_t rb = 0; rb < rows / 128; ++rb) {
        for (int64_t kb = 0; kb < l4; ++kb) {
            if (kb >= kblocks) {
                blk_scales[rb * l4 + kb] = 0.0f;
                continue;
            }
            int hi = 0;
            for (int64_t r = rb * 128; r < rb * 128 + 128; ++r)
                for (int64_t j = kb * 4; j < kb * 4 + 4; ++j)
                    hi = scale[r * per + j] > hi ? scale[r * per + j] : hi;
            const int sb = hi - 6;
            blk_scales[rb * l4 + kb] = pow2_f32(sb);
            for (int64_t r = rb * 128; r < rb * 128 + 128; ++r)
                for (int64_t c = kb * 128; c < kb * 128 + 128; ++c) {
                    const uint32_t byte = w[r * (k / 2) + c / 2];
                    const uint32_t nib = (c & 1) ? byte >> 4 : byte & 15u;
                    codes[r * k + c] = e2m1_times_pow2(nib, scale[r * per + c / 32] - sb);
                }
        }
    }
    return Status::success();
}

Status fp4_fold_e4m3_cuda(const fp4_fold_job *jobs, int count, int64_t k, CUstream_st *stream)
{
    if (!jobs || count <= 0 || count > k_fp4_fold_max_jobs || k <= 0 || k % 128 != 0)
        return Status::invalid("fp4_fold_e4m3_cuda: 1 .. 16 jobs, k a positive multiple of 128");
    fp4_fold_batch b;
    std::memset(static_cast<void *>(&b), 0, sizeof b);
    int64_t maxRows = 0;
    for (int i = 0; i < count; ++i) {
        const fp4_fold_job &j = jobs[i];
        const int64_t total = j.rows[0] + j.rows[1];
        if (j.rows[0] <= 0 || j.rows[1] < 0 || j.rows[0] % 128 != 0 || j.rows[1] % 128 != 0
            || !j.w[0] || !j.scale[0] || (j.rows[1] > 0 && (!j.w[1] || !j.scale[1])) || !j.codes
            || !j.blk_scales)
            return Status::invalid("fp4_fold_e4m3_cuda: rows must be multiples of 128, "
                                   "pointers set");
        for (int s = 0; s < 2; ++s)
            if (j.rows[s] > 0 && (reinterpret_cast<uintptr_t>(j.w[s]) & 15u) != 0)
                return Status::invalid("fp4_fold_e4m3_cuda: weights must be 16-byte aligned");
        if ((reinterpret_cast<uintptr_t>(j.codes) & 15u) != 0)
            return Status::invalid("fp4_fold_e4m3_cuda: codes must be 16-byte aligned");
        b.job[i] = j;
        maxRows = total > maxRows ? total : maxRows;
    }
    b.count = count;
    b.k = k;
    const dim3 grid(static_cast<unsigned>(k / 128),
                    static_cast<unsigned>(maxRows / 128),
                    static_cast<unsigned>(count));
    FATHOM_LAUNCH(grid, k_threads, 0, stream, fp4_fold_kernel)(b);
    return cuda::launch_status();
}

} // namespace fathom::kernels
