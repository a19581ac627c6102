// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Top-k (indexer.h topk_cpu) per row: the k largest values in descending order, equal values by
  lower index, −0.0 below +0.0 (torch.topk's radix order), NaN above everything.

  One block of 1024 threads per row:
  1. radix select on the 32-bit order keys, 8 bits per pass (4 passes, shared histograms): the
     key K of the k-th best element and how many elements equal to K are taken;
  2. an ordered compaction (each thread owns a contiguous chunk of indices, block-wide exclusive
     scan): every element with key > K, then the lowest-index elements with key == K — so ties at
     the boundary resolve exactly as the CPU's stable order;
  3. a bitonic sort of the <= 2048 selected (key, index) pairs in shared memory.
  Rows shorter than k (row_n) get −1 in the remaining slots.
  idxchain: with TopkIndexRows the block also writes its row's attention index row (the window's
  rows, then the selected entries after the window pool, then -1; cuda_ops.h) from the sorted
  pairs, so a CSA decode step needs no sparse_indices launch.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 1024;
constexpr int k_max_k = 2048;

// Exclusive scan of two counters over the block; returns totals through *tot_a / *tot_b.
__device__ void block_scan2(int a, int b, int *ex_a, int *ex_b, int *tot_a, int *tot_b)
{
    __shared__ int wa[32], wb[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int ia = a, ib = b;
    for (int o = 1; o < 32; o <<= 1) {
        const int ta = __shfl_up_sync(0xFFFFFFFFu, ia, o);
        const int tb = __shfl_up_sync(0xFFFFFFFFu, ib, o);
        if (lane >= o) {
            ia += ta;
            ib += tb;
        }
    }
    if (lane == 31) {
        wa[warp] = ia;
        wb[warp] = ib;
    }
    __syncthreads();
    if (warp == 0) {
        int va = wa[lane], vb = wb[lane]; // blockDim == 1024: 32 warps
        for (int o = 1; o < 32; o <<= 1) {
            const int ta = __shfl_up_sync(0xFFFFFFFFu, va, o);
            const int tb = __shfl_up_sync(0xFFFFFFFFu, vb, o);
            if (lane >= o) {
                va += ta;
                vb += tb;
            }
        }
        wa[lane] = va;
        wb[lane] = vb;
    }
    __syncthreads();
    const int base_a = warp > 0 ? wa[warp - 1] : 0;
    const int base_b = warp > 0 ? wb[warp - 1] : 0;
    *ex_a = base_a + ia - a;
    *ex_b = base_b + ib - b;
    *tot_a = wa[31];
    *tot_b = wb[31];
    __syncthreads();
}

// The sorted pair j's index (step 2's item: the complemented index in the low word).
__device__ inline int32_t pair_index(unsigned long long item)
{
    return static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(item & 0xFFFFFFFFull));
}

// Row r's attention index row (TopkIndexRows): kk selections, the first kk pairs of sorted.
__device__ void write_index_row(const TopkIndexRows &ix,
                                int r,
                                int kk,
                                const unsigned long long *sorted)
{
    const int64_t pos = static_cast<int64_t>(ix.step[0]) + r, window_start = ix.step[1];
    const int64_t lo = pos - ix.window + 1 > 0 ? pos - ix.window + 1 : 0;
    const int64_t nw = pos - lo + 1;
    int32_t *row = ix.out + static_cast<int64_t>(r) * ix.n_idx;
    for (int q = threadIdx.x; q < ix.n_idx; q += blockDim.x) {
        int32_t v = -1;
        if (q < nw) {
            const int64_t p = lo + q;
            v = static_cast<int32_t>(ix.ring_mask ? (p & ix.ring_mask) : p - window_start);
        } else if (q - nw < kk) {
            v = ix.n_win + pair_index(sorted[q - nw]);
        }
        row[q] = v;
    }
}

__global__ void __launch_bounds__(k_threads) topk_kernel(const float *values,
                                                         int64_t ld,
                                                         int n,
                                                         const int32_t *row_n,
                                                         int k,
                                                         int32_t *out,
                                                         int64_t out_ld,
                                                         TopkIndexRows ix)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ int hist[256];
    __shared__ uint32_t s_prefix;
    __shared__ int s_remaining;
    __shared__ unsigned long long buf[k_max_k];
    const int r = blockIdx.x;
    const float *v = values + static_cast<int64_t>(r) * ld;
    int nr = n;
    if (row_n) {
        nr = row_n[r];
        nr = nr < 0 ? 0 : (nr > n ? n : nr);
    }
    const int kk = k < nr ? k : nr;
    int32_t *o = out + static_cast<int64_t>(r) * out_ld;
    if (kk == 0) {
        for (int j = threadIdx.x; j < k; j += blockDim.x)
            o[j] = -1;
        if (ix.out)
            write_index_row(ix, r, 0, buf);
        return;
    }
    // 1. Radix select of the kk-th largest key. A row that keeps all its elements (nr <= k:
    // decode at short contexts) needs none: key 0 as the boundary, every element equal to it
    // taken (the compaction below then keeps all nr, in the same order).
    if (threadIdx.x == 0) {
        s_prefix = 0;
        s_remaining = kk;
    }
    for (int shift = 24; shift >= 0 && kk < nr; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x)
            hist[i] = 0;
        __syncthreads();
        const uint32_t prefix = s_prefix;
        const uint32_t hi_mask = shift == 24 ? 0u : (0xFFFFFFFFu << (shift + 8));
        // Four loads in flight a thread, then their counts.
        int i = threadIdx.x;
        for (; i + 3 * static_cast<int>(blockDim.x) < nr; i += 4 * blockDim.x) {
            uint32_t key[4];
#pragma unroll
            for (int j = 0; j < 4; ++j)
                key[j] = cuda::radix_key(v[i + j * blockDim.x]);
#pragma unroll
            for (int j = 0; j < 4; ++j)
                if ((key[j] & hi_mask) == (prefix & hi_mask))
                    atomicAdd(&hist[(key[j] >> shift) & 0xFFu], 1);
        }
        for (; i < nr; i += blockDim.x) {
            const uint32_t key = cuda::radix_key(v[i]);
            if ((key & hi_mask) == (prefix & hi_mask))
                atomicAdd(&hist[(key >> shift) & 0xFFu], 1);
        }
        __syncthreads();
        // The digit: the largest d in 1..255 whose bin reaches the count still to take after
        // the bins above it, else 0 (remaining less the bins above). Warp 0: lane l sums bins
        // 255 - 8l .. 248 - 8l, a scan over the lanes gives the count above each lane's bins,
        // the first lane whose bins reach the count walks its 8 bins (not up to 255 bins by one
        // thread: a serial chain of shared loads per pass).
        if (threadIdx.x < 32) {
            const int lane = threadIdx.x;
            const int remaining = s_remaining;
            const int top = 255 - 8 * lane;
            int sum = 0;
#pragma unroll
            for (int j = 0; j < 8; ++j)
                sum += hist[top - j];
            int incl = sum;
            for (int o = 1; o < 32; o <<= 1) {
                const int u = __shfl_up_sync(0xFFFFFFFFu, incl, o);
                if (lane >= o)
                    incl += u;
            }
            // The counts grow with the lane: the first lane reaching it is the one whose
            // predecessor does not (lane 31 when none reaches it).
            const int prev = __shfl_up_sync(0xFFFFFFFFu, incl, 1);
            const bool first = incl >= remaining ? lane == 0 || prev < remaining : lane == 31;
            if (first) {
                int rem = remaining - (incl - sum), d = top;
                for (; d > 0; --d) {
                    if (hist[d] >= rem)
                        break;
                    rem -= hist[d];
                }
                s_remaining = rem;
                s_prefix = prefix | (static_cast<uint32_t>(d) << shift);
            }
        }
        __syncthreads();
    }
    if (kk == nr) // every element taken (no pass ran): thread 0's s_prefix 0, s_remaining nr
        __syncthreads();
    const uint32_t kth = s_prefix;
    const int take_eq = s_remaining; // elements equal to kth to take, lowest indices first
    // 2. Ordered compaction.
    const int chunk = (nr + blockDim.x - 1) / blockDim.x;
    const int c0 = threadIdx.x * chunk < nr ? threadIdx.x * chunk : nr;
    const int c1 = c0 + chunk < nr ? c0 + chunk : nr;
    int n_gt = 0, n_eq = 0;
    for (int i = c0; i < c1; ++i) {
        const uint32_t key = cuda::radix_key(v[i]);
        n_gt += key > kth;
        n_eq += key == kth;
    }
    int off_gt, off_eq, tot_gt, tot_eq;
    block_scan2(n_gt, n_eq, &off_gt, &off_eq, &tot_gt, &tot_eq);
    (void) tot_eq;
    for (int i = c0; i < c1; ++i) {
        const uint32_t key = cuda::radix_key(v[i]);
        const unsigned long long item = (static_cast<unsigned long long>(key) << 32)
                                        | (0xFFFFFFFFu - static_cast<uint32_t>(i));
        if (key > kth) {
            buf[off_gt++] = item;
        } else if (key == kth) {
            if (off_eq < take_eq)
                buf[tot_gt + off_eq] = item;
            ++off_eq;
        }
    }
    // 3. Bitonic sort, descending, over the next power of two (padding sorts last).
    int size = 1;
    while (size < kk)
        size <<= 1;
    for (int i = kk + threadIdx.x; i < size; i += blockDim.x)
        buf[i] = 0ull;
    __syncthreads();
    // Strides of 32 and more pair elements of different warps: through shared memory, a barrier
    // each. Below 32 the pairs (i, i ^ stride) lie in one warp (thread t holds elements t and
    // t + 1024): those strides of a length run in registers with shuffles, one barrier after
    // them (19 barriers for 512 entries instead of 45). The same exchanges: the same order.
    static_assert(2 * k_threads >= k_max_k, "two sort elements a thread");
    for (int len = 2; len <= size; len <<= 1) {
        int stride = len >> 1;
        for (; stride >= 32; stride >>= 1) {
            for (int i = threadIdx.x; i < size; i += blockDim.x) {
                const int j = i ^ stride;
                if (j > i) {
                    const bool desc = (i & len) == 0;
                    const unsigned long long a = buf[i], b = buf[j];
                    if (desc ? a < b : a > b) {
                        buf[i] = b;
                        buf[j] = a;
                    }
                }
            }
            __syncthreads();
        }
        unsigned long long x[2];
#pragma unroll
        for (int q = 0; q < 2; ++q)
            x[q] = buf[threadIdx.x + q * k_threads]; // < 2048: stale past size, never stored
        for (; stride > 0; stride >>= 1)
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                const int i = threadIdx.x + q * k_threads;
                const unsigned long long y = __shfl_xor_sync(0xFFFFFFFFu, x[q], stride);
                // The pair's lower element keeps the larger in a descending run, the upper the
                // smaller (ascending runs: the other way round).
                const bool larger = ((i & len) == 0) == ((i & stride) == 0);
                x[q] = larger ? (x[q] > y ? x[q] : y) : (x[q] < y ? x[q] : y);
            }
#pragma unroll
        for (int q = 0; q < 2; ++q)
            if (threadIdx.x + q * k_threads < size)
                buf[threadIdx.x + q * k_threads] = x[q];
        __syncthreads();
    }
    for (int j = threadIdx.x; j < k; j += blockDim.x)
        o[j] = j < kk ? pair_index(buf[j]) : -1;
    if (ix.out)
        write_index_row(ix, r, kk, buf);
}

} // namespace

Status topk_rows_cuda(const float *values,
                      int rows,
                      int64_t ld,
                      int n,
                      const int32_t *row_n,
                      int k,
                      int32_t *out,
                      int64_t out_ld,
                      CUstream_st *stream,
                      const TopkIndexRows *index_rows)
{
    if (!values || !out || rows < 0 || n < 0 || k < 0 || k > k_max_k || ld < n || out_ld < k)
        return Status::invalid("topk_rows_cuda: bad arguments (k <= 2048)");
    const TopkIndexRows ix = index_rows ? *index_rows : TopkIndexRows{};
    if (ix.out && (!ix.step || ix.n_idx <= 0 || ix.window < 0 || ix.n_win < 0 || k == 0))
        return Status::invalid("topk_rows_cuda: bad index rows");
    if (rows == 0 || k == 0)
        return Status::success();
    FATHOM_LAUNCH(rows, k_threads, 0, stream, topk_kernel)
    (values, ld, n, row_n, k, out, out_ld, ix);
    return cuda::launch_status();
}

Status topk_cuda(const float *values, int n, int k, int32_t *out_idx, CUstream_st *stream)
{
    if (k > n)
        return Status::invalid("topk_cuda: k must be in [0, n]");
    return topk_rows_cuda(values, 1, n, n, nullptr, k, out_idx, k, stream);
}

} // namespace fathom::kernels
