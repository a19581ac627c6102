// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Compressor pooling (compressor.h), decode (one entry) and prefill (n consecutive entries).

  One thread per (entry, channel): the per-channel softmax over the window's slots (previous
  window's A halves, then this window's B halves when overlapped) with exp in double rounded to
  fp32, the sum of weights in double rounded once, weights g/sum in fp32 and Σ w·a in double,
  rounded to bf16: literally compressor_pool_cpu per channel. Reads of a slot are coalesced
  across channels.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

namespace fathom::kernels {

namespace {

// slots (nullptr: rows at the pointers themselves): ring slots of the window rows, see
// compressor_pool_slots_cuda (one entry).
__global__ void compressor_pool_kernel(CompressorPoolParams p, int n_entries, const int32_t *slots)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int e = blockIdx.y * blockDim.x + threadIdx.x;
    const int entry = blockIdx.x; // entries on x: a 1M-token prefill has 262144 CSA entries
    if (e >= p.dc || entry >= n_entries)
        return;
    const bool ov = p.overlap == CompressorOverlap::Overlapped;
    const int width = ov ? 2 * p.dc : p.dc;
    const int b_off = ov ? p.dc : 0;
    const int64_t window = static_cast<int64_t>(p.ratio) * width;
    const float *kv = p.kv + entry * window;
    const float *score = p.score + entry * window;
    const float *prev_kv = nullptr, *prev_score = nullptr;
    if (ov) {
        if (entry > 0) {
            prev_kv = kv - window;
            prev_score = score - window;
        } else {
            prev_kv = p.prev_kv;
            prev_score = p.prev_score;
        }
    }
    if (slots) { // one entry
        kv += static_cast<int64_t>(slots[0]) * width;
        score += static_cast<int64_t>(slots[2]) * width;
        if (prev_kv) {
            prev_kv += static_cast<int64_t>(slots[1]) * width;
            prev_score += static_cast<int64_t>(slots[3]) * width;
        }
    }
    // Pass 1: max of the gates.
    float mx = -__int_as_float(0x7F800000);
    bool first = true;
    if (prev_kv) {
        for (int r = 0; r < p.ratio; ++r) {
            const float g = prev_score[static_cast<int64_t>(r) * width + e];
            mx = (first || g > mx) ? g : mx;
            first = false;
        }
    }
    for (int r = 0; r < p.ratio; ++r) {
        const float g = score[static_cast<int64_t>(r) * width + b_off + e];
        mx = (first || g > mx) ? g : mx;
        first = false;
    }
    // Pass 2: Σ exp(g − mx).
    double s = 0.0;
    if (prev_kv)
        for (int r = 0; r < p.ratio; ++r)
            s += cuda::exp_f32(__fsub_rn(prev_score[static_cast<int64_t>(r) * width + e], mx));
    for (int r = 0; r < p.ratio; ++r)
        s += cuda::exp_f32(__fsub_rn(score[static_cast<int64_t>(r) * width + b_off + e], mx));
    const float sum = static_cast<float>(s);
    // Pass 3: Σ (w/sum)·a.
    double acc = 0.0;
    if (prev_kv) {
        for (int r = 0; r < p.ratio; ++r) {
            const int64_t o = static_cast<int64_t>(r) * width + e;
            const float w = cuda::exp_f32(__fsub_rn(prev_score[o], mx));
            acc += static_cast<double>(__fmul_rn(__fdiv_rn(w, sum), prev_kv[o]));
        }
    }
    for (int r = 0; r < p.ratio; ++r) {
        const int64_t o = static_cast<int64_t>(r) * width + b_off + e;
        const float w = cuda::exp_f32(__fsub_rn(score[o], mx));
        acc += static_cast<double>(__fmul_rn(__fdiv_rn(w, sum), kv[o]));
    }
    p.out[static_cast<int64_t>(entry) * p.dc + e] = cuda::round_bf16(static_cast<float>(acc));
}

Status check(const CompressorPoolParams &p, int n_entries)
{
    const bool ov = p.overlap == CompressorOverlap::Overlapped;
    if (!p.kv || !p.score || !p.out || p.ratio <= 0 || p.dc <= 0 || (!ov && p.prev_kv)
        || (p.prev_kv && !p.prev_score) || n_entries < 0 || p.dc > 65535 * 128)
        return Status::invalid("compressor_pool_cuda: bad arguments");
    return Status::success();
}

} // namespace

Status compressor_pool_batched_cuda(const CompressorPoolParams &p,
                                    int n_entries,
                                    CUstream_st *stream)
{
    if (Status st = check(p, n_entries); !st.ok())
        return st;
    if (n_entries == 0)
        return Status::success();
    const int threads = 128;
    const dim3 grid(n_entries, (p.dc + threads - 1) / threads);
    FATHOM_LAUNCH(grid, threads, 0, stream, compressor_pool_kernel)(p, n_entries, nullptr);
    return cuda::launch_status();
}

Status compressor_pool_slots_cuda(const CompressorPoolParams &p,
                                  const int32_t *slots,
                                  CUstream_st *stream)
{
    if (Status st = check(p, 1); !st.ok())
        return st;
    if (!slots)
        return Status::invalid("compressor_pool_slots_cuda: no slots");
    const int threads = 128;
    const dim3 grid(1, (p.dc + threads - 1) / threads);
    FATHOM_LAUNCH(grid, threads, 0, stream, compressor_pool_kernel)(p, 1, slots);
    return cuda::launch_status();
}

Status compressor_pool_cuda(const CompressorPoolParams &p, CUstream_st *stream)
{
    return compressor_pool_batched_cuda(p, 1, stream);
}

} // namespace fathom::kernels
