// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once
/*
  One row's top-k (indexer.h topk_cpu) by one block: the body of topk_kernel (topk.cu, one block
  of 1024 threads per row) and of the fused indexer (idxtopk: indexer_scores.cu and
  indexer_scores_mma.cu, whose last scoring block of a row runs it with the scoring block's 128 or
  256 threads on the row's scores staged in shared memory). The k largest values in descending
  order, equal values by lower index, −0.0 below +0.0 (torch.topk's radix order), NaN above
  everything:
  1. radix select on the 32-bit order keys, 8 bits per pass (4 passes, shared histograms): the
     key K of the k-th best element and how many elements equal to K are taken;
  2. an ordered compaction (each thread owns a contiguous chunk of indices, block-wide exclusive
     scan): every element with key > K, then the lowest-index elements with key == K — so ties at
     the boundary resolve exactly as the CPU's stable order;
  3. a bitonic sort of the <= 2048 selected (key, index) pairs in shared memory.
  The (key, complemented index) pairs are distinct, so the result does not depend on the block
  size: any block of a multiple of 32 threads (<= 1024) gives the same bits.
  Rows shorter than k get −1 in the remaining slots. With TopkIndexRows the block also writes
  its row's attention index row (the window's rows, then the selected entries after the window
  pool, then -1; cuda_ops.h) from the sorted pairs.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "indexer_rows.h"

namespace fathom::kernels::cuda {

constexpr int k_topk_max_k = 2048;

// The sort buffer's entries for k: the next power of two (topk_row's `buf`).
__host__ __device__ inline int topk_sort_entries(int k)
{
    int size = 1;
    while (size < k)
        size <<= 1;
    return size;
}

// Exclusive scan of two counters over the block (blockDim.x a multiple of 32, <= 1024); returns
// totals through *tot_a / *tot_b.
__device__ inline void topk_block_scan2(int a, int b, int *ex_a, int *ex_b, int *tot_a, int *tot_b)
{
    __shared__ int wa[32], wb[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int warps = static_cast<int>(blockDim.x) >> 5;
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
        int va = lane < warps ? wa[lane] : 0, vb = lane < warps ? wb[lane] : 0;
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
    *tot_a = wa[warps - 1];
    *tot_b = wb[warps - 1];
    __syncthreads();
}

// The sorted pair j's index (step 2's item: the complemented index in the low word).
__device__ inline int32_t topk_pair_index(unsigned long long item)
{
    return static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(item & 0xFFFFFFFFull));
}

// Row r's attention index row (TopkIndexRows): kk selections, the first kk pairs of sorted.
__device__ inline void topk_write_index_row(const TopkIndexRows &ix,
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
            v = ix.n_win + topk_pair_index(sorted[q - nw]);
        }
        row[q] = v;
    }
}

/*
  Row r: the top k (1..2048) of v[0 .. nr) (nr already clamped to [0, n]) into o[0 .. k), and
  ix's index row when ix.out. The whole block calls it, none having returned. hist: 256 ints of
  shared memory; buf: topk_sort_entries(k) pairs of shared memory.
*/
__device__ inline void topk_row(const float *v,
                                int nr,
                                int k,
                                int32_t *o,
                                const TopkIndexRows &ix,
                                int r,
                                int *hist,
                                unsigned long long *buf)
{
    __shared__ uint32_t s_prefix;
    __shared__ int s_remaining;
    const int kk = k < nr ? k : nr;
    if (kk == 0) {
        for (int j = threadIdx.x; j < k; j += blockDim.x)
            o[j] = -1;
        if (ix.out)
            topk_write_index_row(ix, r, 0, buf);
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
                key[j] = radix_key(v[i + j * blockDim.x]);
#pragma unroll
            for (int j = 0; j < 4; ++j)
                if ((key[j] & hi_mask) == (prefix & hi_mask))
                    atomicAdd(&hist[(key[j] >> shift) & 0xFFu], 1);
        }
        for (; i < nr; i += blockDim.x) {
            const uint32_t key = radix_key(v[i]);
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
        const uint32_t key = radix_key(v[i]);
        n_gt += key > kth;
        n_eq += key == kth;
    }
    int off_gt, off_eq, tot_gt, tot_eq;
    topk_block_scan2(n_gt, n_eq, &off_gt, &off_eq, &tot_gt, &tot_eq);
    (void) tot_eq;
    for (int i = c0; i < c1; ++i) {
        const uint32_t key = radix_key(v[i]);
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
    const int size = topk_sort_entries(kk);
    for (int i = kk + threadIdx.x; i < size; i += blockDim.x)
        buf[i] = 0ull;
    __syncthreads();
    // Strides of 32 and more pair elements of different warps: through shared memory, a barrier
    // each. Below 32 the pairs (i, i ^ stride) lie in one warp (thread t holds elements
    // t + q blockDim, two q at a time): those strides of a length run in registers with
    // shuffles, one barrier after them (19 barriers for 512 entries with 1024 threads instead of
    // 45). The same exchanges: the same order.
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
        for (int q0 = 0; q0 * static_cast<int>(blockDim.x) < size; q0 += 2) {
            unsigned long long x[2];
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                const int i = threadIdx.x + (q0 + q) * blockDim.x;
                x[q] = i < size ? buf[i] : 0ull; // past size: never stored
            }
            for (int s = stride; s > 0; s >>= 1)
#pragma unroll
                for (int q = 0; q < 2; ++q) {
                    const int i = threadIdx.x + (q0 + q) * blockDim.x;
                    const unsigned long long y = __shfl_xor_sync(0xFFFFFFFFu, x[q], s);
                    // The pair's lower element keeps the larger in a descending run, the upper
                    // the smaller (ascending runs: the other way round).
                    const bool larger = ((i & len) == 0) == ((i & s) == 0);
                    x[q] = larger ? (x[q] > y ? x[q] : y) : (x[q] < y ? x[q] : y);
                }
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                const int i = threadIdx.x + (q0 + q) * blockDim.x;
                if (i < size)
                    buf[i] = x[q];
            }
        }
        __syncthreads();
    }
    for (int j = threadIdx.x; j < k; j += blockDim.x)
        o[j] = j < kk ? topk_pair_index(buf[j]) : -1;
    if (ix.out)
        topk_write_index_row(ix, r, kk, buf);
}

} // namespace fathom::kernels::cuda

namespace fathom::kernels::cuda {

// idxtopk: the arguments both fused launchers take (indexer_topk_rows_cuda, fast = false, and
// indexer_topk_rows_fast_cuda), checked in one place: an error naming the launcher when they are
// bad or outside the fused launch, success when the launch may go ahead.
inline Status indexer_topk_rows_check(
    const IndexerScoreParams &p, int n_q, int64_t scores_ld, const IndexerTopkOut &o, bool fast)
{
    if (!p.q || !p.weights || (!p.keys && !p.keys_bf16 && !p.keys_packed) || !p.scores
        || p.n_heads <= 0 || p.dim <= 0 || scores_ld < p.n_keys || !o.out || !o.counters
        || o.out_ld < o.k)
        return Status::invalid(fast ? "indexer_topk_rows_fast_cuda: bad arguments"
                                    : "indexer_topk_rows_cuda: bad arguments");
    const TopkIndexRows *ix = o.index_rows;
    if (ix && ix->out && (!ix->step || ix->n_idx <= 0 || ix->window < 0 || ix->n_win < 0))
        return Status::invalid(fast ? "indexer_topk_rows_fast_cuda: bad index rows"
                                    : "indexer_topk_rows_cuda: bad index rows");
    if (!indexer_topk_fused_fits(p, n_q, o.k))
        return Status::unsupported(fast ? "indexer_topk_rows_fast_cuda: shape outside the fused "
                                          "launch"
                                        : "indexer_topk_rows_cuda: shape outside the fused launch");
    return Status::success();
}

// idxtopk: the fused indexer's shared memory for its top-k tail (topk_row's pairs and histogram,
// then the row's n scores): the launch gives max(this, the scoring's) bytes.
__host__ __device__ inline size_t indexer_topk_smem(int k, int n)
{
    return sizeof(unsigned long long) * static_cast<size_t>(topk_sort_entries(k))
           + sizeof(int) * 256 + sizeof(float) * static_cast<size_t>(n);
}

/*
  idxtopk: the tail of a fused indexer launch (indexer_topk_rows_cuda; its arguments a,
  indexer_rows.h): every block of row r's scoring (blocks of them, counting on a.counters[r])
  calls it after storing its scores, none having returned; the last (cuda::arrive_last) stages
  the row's visible scores (a.row_n[r] clamped to [0, n_keys]; row_n null: n_keys) from its
  scores row into shared memory (smem, indexer_topk_smem(k, n_keys) bytes; the scoring's shared
  memory is dead by then) past L1, and runs topk_row on them: topk_kernel's result, bit for bit.
*/
__device__ inline void indexer_topk_tail(const IndexerRowsArgs &a, int r, int blocks, void *smem)
{
    if (!arrive_last(a.counters + r, blocks))
        return;
    const int n = a.p.n_keys;
    int nr = n;
    if (a.row_n) {
        nr = a.row_n[r];
        nr = nr < 0 ? 0 : (nr > n ? n : nr);
    }
    const float *scores_row = a.p.scores + static_cast<int64_t>(r) * a.scores_ld;
    auto *buf = static_cast<unsigned long long *>(smem);
    int *hist = reinterpret_cast<int *>(buf + topk_sort_entries(a.k));
    float *vals = reinterpret_cast<float *>(hist + 256);
#pragma unroll 4
    for (int i = threadIdx.x; i < nr; i += blockDim.x)
        vals[i] = load_cg(scores_row + i);
    __syncthreads();
    topk_row(vals, nr, a.k, a.out + static_cast<int64_t>(r) * a.out_ld, a.ix, r, hist, buf);
}

} // namespace fathom::kernels::cuda
