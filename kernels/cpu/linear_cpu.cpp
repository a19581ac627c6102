// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// LINEAR, fast CPU paths: prepares x once (activation quantisation for FP8/FP4 weights), then
// splits the output columns over the thread pool. The per-column kernels are in
// linear_avx2.cpp (AVX2+FMA) and below (portable). See linear_internal.h for why working on
// dequantised values is still bit-exact.

#include "kernels/cpu_features.h"
#include "kernels/formats.h"
#include "kernels/linear.h"
#include "linear_internal.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

namespace fathom::kernels {

namespace {

bool is_quantized(linear_weight_type t)
{
    return t == linear_weight_type::fp8_e4m3 || t == linear_weight_type::fp4_e2m1;
}

void prepare_x(const linear_params &p,
               std::vector<float> &xs,
               std::vector<int32_t> &xi,
               std::vector<float> &xq,
               std::vector<uint8_t> &xsa,
               bool avx2,
               parallel_runner *pool)
{
#if !defined(FATHOM_KERNELS_HAVE_AVX2)
    (void) avx2; // no AVX2 unit in this build
#endif
    const int64_t k = p.k, ld = p.ldx ? p.ldx : p.k, kb = (k + 127) / 128;
    const bool ints = p.w_type == linear_weight_type::fp4_e2m1;
    const bool codes = p.w_type == linear_weight_type::fp8_e4m3;
    xs.resize(static_cast<size_t>(p.m) * static_cast<size_t>(k));
    if (ints)
        xi.resize(xs.size());
    if (codes)
        xq.resize(xs.size());
    if (ints || codes)
        xsa.resize(static_cast<size_t>(p.m * kb));
    // Rows are independent: a prefill chunk prepares them on the pool (a decode row stays here).
    parallel_for(pool, p.m, 16, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            float *dst = xs.data() + r * k;
            if (p.x_type == act_type::bf16)
                bf16_to_f32_row(static_cast<const uint16_t *>(p.x) + r * ld, dst, k);
            else
                std::copy_n(static_cast<const float *>(p.x) + r * ld, k, dst);
            if (!is_quantized(p.w_type))
                continue;
            for (int64_t b0 = 0; b0 < k; b0 += 128) {
                const int64_t b1 = std::min<int64_t>(k, b0 + 128);
                float amax = 0.0f;
#if defined(FATHOM_KERNELS_HAVE_AVX2)
                if (avx2)
                    amax = amax_avx2(dst + b0, b1 - b0);
                else
#endif
                    for (int64_t i = b0; i < b1; ++i)
                        amax = std::max(amax, std::fabs(dst[i]));
                const uint8_t s = pow2_scale_e8m0(amax, k_e4m3_inv_max, k_e4m3_amax_floor);
                const float inv = e8m0_inverse_f32(s), sv = e8m0_to_f32(s);
                if (ints || codes)
                    xsa[static_cast<size_t>(r * kb + b0 / 128)] = s;
#if defined(FATHOM_KERNELS_HAVE_AVX2)
                if (avx2) {
                    act_quant_block_avx2(dst + b0,
                                         b1 - b0,
                                         inv,
                                         sv,
                                         codes ? xq.data() + r * k + b0 : nullptr,
                                         ints ? xi.data() + r * k + b0 : nullptr);
                    continue;
                }
#endif
                for (int64_t i = b0; i < b1; ++i) {
                    const float q = e4m3_to_f32(f32_to_e4m3(dst[i] * inv));
                    if (ints)
                        xi[static_cast<size_t>(r * k + i)] = static_cast<int32_t>(q * 512.0f);
                    if (codes)
                        xq[static_cast<size_t>(r * k + i)] = q;
                    dst[i] = q * sv;
                }
            }
        }
    });
}

// Decodes weight row j to fp32 (dequantised).
void decode_row(const linear_params &p, int64_t j, float *out)
{
    const int64_t k = p.k;
    switch (p.w_type) {
    case linear_weight_type::bf16:
        bf16_to_f32_row(static_cast<const uint16_t *>(p.w) + j * k, out, k);
        break;
    case linear_weight_type::f32:
        std::copy_n(static_cast<const float *>(p.w) + j * k, k, out);
        break;
    case linear_weight_type::fp8_e4m3: {
        const uint8_t *w = static_cast<const uint8_t *>(p.w) + j * k;
        const int64_t kb = (k + 127) / 128;
        for (int64_t b = 0; b < kb; ++b) {
            const float s = e8m0_to_f32(p.w_scale[(j / 128) * kb + b]);
            for (int64_t i = b * 128; i < std::min<int64_t>(k, b * 128 + 128); ++i)
                out[i] = e4m3_to_f32(w[i]) * s;
        }
        break;
    }
    case linear_weight_type::fp4_e2m1: {
        const uint8_t *w = static_cast<const uint8_t *>(p.w) + j * (k / 2);
        for (int64_t b = 0; b < k / 32; ++b) {
            const float s = e8m0_to_f32(p.w_scale[j * (k / 32) + b]);
            for (int64_t i = b * 32; i < b * 32 + 32; ++i)
                out[i] = e2m1_to_f32(e2m1_unpack(w, i)) * s;
        }
        break;
    }
    }
}

Status run(const linear_params &p, parallel_runner *pool, bool avx2, bool avx512, bool vnni)
{
    if (Status s = linear_check(p); !s.ok() || p.m == 0 || p.n == 0)
        return s;
    thread_local std::vector<float> xs;
    thread_local std::vector<int32_t> xi;
    thread_local std::vector<float> xq;
    thread_local std::vector<uint8_t> xsa;
    thread_local std::vector<double> xd;
    thread_local std::vector<uint8_t> x4;
    prepare_x(p, xs, xi, xq, xsa, avx2, pool);
    linear_job job;
    job.p = &p;
    job.xs = xs.data();
    job.avx512 = avx2 && avx512;
    if (p.w_type == linear_weight_type::fp4_e2m1) {
        job.xi = xi.data();
        job.xsa = xsa.data();
    }
    if (p.w_type == linear_weight_type::fp8_e4m3) {
        job.xq = xq.data();
        job.xsa = xsa.data();
    }
    job.block = p.w_type == linear_weight_type::fp8_e4m3   ? 128
                : p.w_type == linear_weight_type::fp4_e2m1 ? 32
                                                           : std::max(p.k, 1);
    if (p.accum == linear_accum::fp32 && p.m < k_gemm_min_rows && avx512 && cpu_has_avx512_bf16()) {
        linear_gemv_bf16dot(job, pool); // decode GEMV in fp32 mode at the memory bandwidth
        return Status::success();
    }
#if defined(FATHOM_KERNELS_HAVE_AVX2)
    const bool exact = p.accum == linear_accum::exact;
    const bool gemm = avx2 && exact && p.m >= k_gemm_min_rows;
    const bool vnni_gemm = gemm && avx512 && vnni && p.w_type == linear_weight_type::fp4_e2m1;
    if (avx2 && exact && !vnni_gemm && (gemm || p.w_type == linear_weight_type::bf16)) {
        xd.resize(xs.size());
        // Plain pointers: a thread_local named inside the lambda would be the worker's own.
        const float *src = xs.data();
        double *dst = xd.data();
        parallel_for(pool, static_cast<int64_t>(xs.size()), 16384, [=](int64_t i0, int64_t i1) {
            std::copy(src + i0, src + i1, dst + i0);
        });
        job.xd = xd.data();
    }
    if (avx2 && !gemm && p.w_type == linear_weight_type::fp4_e2m1 && p.m < k_gemm_min_rows) {
        x4.resize(static_cast<size_t>(p.m) * static_cast<size_t>(p.k) * 4);
        for (int64_t r = 0; r < p.m; ++r)
            fp4_digits(xi.data() + r * p.k, p.k, x4.data() + r * p.k * 4);
        job.x4 = x4.data();
    }
    // fp32 mode, prefill: block sums with vdpbf16ps (linear_bf16dot.cpp); BF16 weights only when
    // every x is a bf16 value (CpuExecutor passes bf16-valued activations as f32). Not from
    // linear_cpu_avx2 / _portable (avx512 false there).
    if (avx2 && avx512 && !exact && p.m >= k_gemm_min_rows && cpu_has_avx512_bf16()
        && (is_quantized(p.w_type) || p.w_type == linear_weight_type::bf16)) {
        thread_local std::vector<uint16_t> xb;
        const int64_t kp = bf16dot_row_elems(p.k);
        xb.resize(static_cast<size_t>(p.m) * static_cast<size_t>(kp));
        uint16_t *codes = xb.data();
        std::atomic<bool> all_bf16{true};
        parallel_for(pool, p.m, 16, [&job, codes, &all_bf16](int64_t r0, int64_t r1) {
            if (!bf16dot_prepare_x(job, r0, r1, codes))
                all_bf16.store(false, std::memory_order_relaxed);
        });
        if (all_bf16.load()) {
            job.xb = xb.data();
            const int64_t tiles = (p.n + k_bf16dot_tile_cols - 1) / k_bf16dot_tile_cols;
            parallel_for(pool, tiles, 1, [&](int64_t t0, int64_t t1) {
                linear_gemm_bf16dot(job, t0, t1);
            });
            return Status::success();
        }
    }
    if (gemm && avx512 && vnni && p.w_type == linear_weight_type::fp4_e2m1) {
        // Prefill with FP4 weights: integer block sums with vpdpbusd (linear_vnni.cpp).
        thread_local std::vector<uint8_t> xv;
        xv.resize(static_cast<size_t>(p.m) * static_cast<size_t>(p.k) * 3);
        const int32_t *ints = xi.data();
        uint8_t *digits = xv.data();
        const int64_t k = p.k;
        parallel_for(pool, p.m, 16, [=](int64_t r0, int64_t r1) {
            fp4_vnni_digits(ints + r0 * k, r1 - r0, k, digits + r0 * 3 * k);
        });
        job.xv = xv.data();
        const int64_t tiles = (p.n + k_vnni_tile_cols - 1) / k_vnni_tile_cols;
        parallel_for(pool, tiles, 1, [&](int64_t t0, int64_t t1) {
            linear_gemm_fp4_vnni(job, t0, t1);
        });
        return Status::success();
    }
    if (gemm) {
        // Prefill: blocked GEMM over tiles of output columns; every tile decodes its weights
        // once for all rows of x.
        const int64_t tiles = (p.n + k_gemm_tile_cols - 1) / k_gemm_tile_cols;
        parallel_for(pool, tiles, 1, [&](int64_t t0, int64_t t1) {
            linear_gemm_tiles_avx2(job, t0, t1);
        });
        return Status::success();
    }
#endif
    // ~16 KiB of weights per range at least, so small linears stay on one thread.
    const int64_t row_bytes = std::max<int64_t>(1, linear_weight_bytes(p.w_type, 1, p.k))
                              * std::max(1, std::min(p.m, 16));
    const int64_t grain = std::max<int64_t>(4, (16 * 1024) / row_bytes);
    parallel_for(pool, p.n, grain, [&](int64_t j0, int64_t j1) {
#if defined(FATHOM_KERNELS_HAVE_AVX2)
        if (avx2) {
            linear_rows_avx2(job, j0, j1);
            return;
        }
#endif
        (void) avx2;
        linear_rows_portable(job, j0, j1);
    });
    return Status::success();
}

} // namespace

void fp4_digits(const int32_t *xi, int64_t k, uint8_t *out)
{
    for (int64_t b = 0; b < k / 32; ++b, out += 128) {
        for (int p = 0; p < 32; ++p) {
            // Position p of the block holds element 2p (p < 16) or 2(p - 16) + 1: the order in
            // which the AVX2 kernel unpacks the low and then the high nibbles of 16 bytes.
            const int64_t i = b * 32 + (p < 16 ? 2 * p : 2 * (p - 16) + 1);
            const int32_t v = xi[i];
            const uint32_t a = static_cast<uint32_t>(v < 0 ? -v : v); // < 2^18
            out[p] = static_cast<uint8_t>(a & 0xFF);
            out[32 + p] = static_cast<uint8_t>((a >> 8) & 0xFF);
            out[64 + p] = static_cast<uint8_t>(a >> 16);
            out[96 + p] = static_cast<uint8_t>(v < 0 ? 0xFF : 1); // -1 or +1 as int8
        }
    }
}

void linear_rows_portable(const linear_job &job, int64_t j0, int64_t j1)
{
    const linear_params &p = *job.p;
    const int64_t k = p.k;
    std::vector<float> w(static_cast<size_t>(k));
    for (int64_t j = j0; j < j1; ++j) {
        decode_row(p, j, w.data());
        for (int64_t r = 0; r < p.m; ++r) {
            const float *x = job.xs + r * k;
            float acc = 0.0f;
            if (p.accum == linear_accum::exact) {
                for (int64_t b0 = 0; b0 < k; b0 += job.block) {
                    const int64_t b1 = std::min(k, b0 + job.block);
                    double s = 0.0;
                    for (int64_t i = b0; i < b1; ++i)
                        s += static_cast<double>(x[i]) * static_cast<double>(w[i]);
                    acc += static_cast<float>(s);
                }
            } else {
                float a[8] = {};
                int64_t i = 0;
                for (; i + 8 <= k; i += 8)
                    for (int l = 0; l < 8; ++l)
                        a[l] = std::fma(x[i + l], w[i + l], a[l]);
                for (; i < k; ++i)
                    a[0] = std::fma(x[i], w[i], a[0]);
                acc = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
            }
            linear_store(p, r, j, acc);
        }
    }
}

Status linear_cpu(const linear_params &p, parallel_runner *pool)
{
    return run(p, pool, cpu_has_avx2_fma(), cpu_has_avx512(), cpu_has_avx512_vnni());
}

Status linear_cpu_portable(const linear_params &p, parallel_runner *pool)
{
    return run(p, pool, false, false, false);
}

Status linear_cpu_avx2(const linear_params &p, parallel_runner *pool)
{
    return run(p, pool, cpu_has_avx2_fma(), false, false);
}

Status linear_cpu_avx512_no_vnni(const linear_params &p, parallel_runner *pool)
{
    return run(p, pool, cpu_has_avx2_fma(), cpu_has_avx512(), false);
}

} // namespace fathom::kernels
