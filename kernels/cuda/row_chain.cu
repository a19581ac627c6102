// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  The attention's per-row chains (row_chain.h) as one launch: one block of 256 threads per row,
  the row in shared memory, one barrier between steps. Every step calls the device function its
  single kernel calls (row_ops.cuh) with the same reductions, so the result is the single
  kernels' (and the CPU twins') bits:
  - rmsnorm: rmsnorm_row over 256 threads (rmsnorm_kernel's block size, the same block_sum tree);
  - head_rmsnorm_bf16: warp 0 alone computes the scale, as head_rmsnorm_bf16_kernel's warp does;
  - rope: each pair on its own;
  - hadamard: the butterfly stages (each element sees the same additions whatever the mapping);
  - fake quantisation: one warp per scale block of the row.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "row_ops.cuh"
#include "state_rows.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256; // rmsnorm_kernel's block: the same reduction tree

// Row r of the chain: v (p.dim floats of shared memory) ends up holding the row's result, which
// is also stored back to the row.
__device__ inline void chain_row(
    const RowChainParams &p, int r, float *v, double *scratch, float &rs_shared)
{
    const int n = p.dim;
    float *row = p.x + static_cast<int64_t>(r) * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        v[i] = row[i];
    __syncthreads();

    if (p.norm == RowNorm::Rms) {
        cuda::rmsnorm_row(v, v, p.norm_weight, n, p.eps, scratch);
        __syncthreads();
    } else if (p.norm == RowNorm::HeadBf16) {
        if (threadIdx.x < 32) {
            const float rs = cuda::head_rms_scale_bf16(v, n, p.eps, threadIdx.x);
            if (threadIdx.x == 0)
                rs_shared = rs;
        }
        __syncthreads();
        const float rs = rs_shared;
        for (int i = threadIdx.x; i < n; i += blockDim.x)
            v[i] = cuda::round_bf16(__fmul_rn(v[i], rs));
        __syncthreads();
    }

    if (p.positions) {
        const int half = p.rope_dim / 2;
        const int pos = p.positions[r / p.rows_per_position];
        for (int j = threadIdx.x; j < half; j += blockDim.x)
            cuda::rope_pair(v + p.rope_offset + 2 * j, pos, p.freqs[j], false);
        __syncthreads();
    }

    if (p.hadamard_scale != 0.0f) {
        cuda::hadamard_butterflies(v, n);
        for (int i = threadIdx.x; i < n; i += blockDim.x)
            v[i] = cuda::round_bf16(__fmul_rn(v[i], p.hadamard_scale));
        __syncthreads();
    }

    if (p.quant != RowQuant::None) {
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int nblocks = (p.quant_dims + p.quant_block - 1) / p.quant_block;
        for (int b = warp; b < nblocks; b += k_threads / 32) {
            const int b0 = b * p.quant_block;
            const int b1 = b0 + p.quant_block < p.quant_dims ? b0 + p.quant_block : p.quant_dims;
            if (p.quant == RowQuant::E4m3)
                cuda::fake_quant_block<true>(v, b0, b1, lane);
            else
                cuda::fake_quant_block<false>(v, b0, b1, lane);
        }
        __syncthreads();
    }

    for (int i = threadIdx.x; i < n; i += blockDim.x)
        row[i] = v[i];
}

__global__ void row_chain_kernel(RowChainParams p)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(float, v);
    __shared__ double scratch[32];
    __shared__ float rs_shared;
    chain_row(p, blockIdx.x, v, scratch, rs_shared);
}

// appends (session 10): blocks [0, rows) run the chain's rows and store the appends of their
// rows (segments with chain_row >= 0) from the results in shared memory; the blocks after them
// store the other segments' rows, one each (append_state_kernel's stores).
__device__ inline void chain_append_block(const RowChainParams &p,
                                          const StateAppendParams &a,
                                          int r,
                                          int *inexact,
                                          float *v,
                                          double *scratch,
                                          float &rs_shared)
{
    int bad = 0;
    if (r < p.rows) {
        chain_row(p, r, v, scratch, rs_shared);
        for (int k = 0; k < a.segments; ++k) {
            const StateAppendSegment &sg = a.seg[k];
            if (sg.chain_row >= 0 && r >= sg.chain_row && r < sg.chain_row + sg.count)
                bad += cuda::append_state_row(sg, a.positions[sg.first + r - sg.chain_row], v);
        }
    } else {
        int t = r - p.rows, k = 0;
        for (; k < a.segments; ++k) {
            if (a.seg[k].chain_row >= 0)
                continue;
            if (t < a.seg[k].count)
                break;
            t -= a.seg[k].count;
        }
        if (k < a.segments) {
            const StateAppendSegment &sg = a.seg[k];
            bad += cuda::append_state_row(sg,
                                          a.positions[sg.first + t],
                                          sg.src + static_cast<int64_t>(t) * sg.width);
        }
    }
    if (bad && inexact)
        atomicAdd(inexact, bad);
}

__global__ void row_chain_append_kernel(RowChainParams p, StateAppendParams a, int *inexact)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(float, v);
    __shared__ double scratch[32];
    __shared__ float rs_shared;
    chain_append_block(p, a, blockIdx.x, inexact, v, scratch, rs_shared);
}

constexpr uint32_t k_prefetch_piece = 64u << 10; // cp.async.bulk.prefetch.L2 pieces of <= 64 KiB

// rowchains: the ranges of w.prefetch in pieces of k_prefetch_piece, piece i asked for by lane 0
// of warp i % (grid's warps) (immutable data: before FATHOM_PDL_WAIT()).
__device__ inline void prefetch_ranges(const RowChainsWith &w)
{
    if ((threadIdx.x & 31) != 0)
        return;
    const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
    const int64_t me = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int64_t piece0 = 0; // the pieces of the ranges before range j
    for (int j = 0; j < k_row_chains_prefetch; ++j) {
        const int64_t bytes = w.prefetch[j] ? w.prefetch_bytes[j] : 0;
        const int64_t pieces = (bytes + k_prefetch_piece - 1) / k_prefetch_piece;
        // This warp's first piece of range j: the first i >= piece0 with i % warps == me.
        int64_t i = piece0 + ((me - piece0 % warps) + warps) % warps;
        for (; i < piece0 + pieces; i += warps) {
            const int64_t off = (i - piece0) * k_prefetch_piece;
            const int64_t left = bytes - off;
            cuda::prefetch_l2(static_cast<const unsigned char *>(w.prefetch[j]) + off,
                              left < k_prefetch_piece ? static_cast<uint32_t>(left)
                                                      : k_prefetch_piece);
        }
        piece0 += pieces;
    }
}

// rowchains (session 16): blocks [0, lead) are row_chain_append_kernel's; the blocks after them
// run w.chain[0]'s rows, then w.chain[1]'s, one each (chain_row: the single launches' code).
__global__ void row_chains_append_kernel(
    RowChainParams p, StateAppendParams a, RowChainsWith w, int lead, int *inexact)
{
    prefetch_ranges(w);
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(float, v);
    __shared__ double scratch[32];
    __shared__ float rs_shared;
    const int b = blockIdx.x;
    if (b < lead)
        chain_append_block(p, a, b, inexact, v, scratch, rs_shared);
    else if (b - lead < w.chain[0].rows)
        chain_row(w.chain[0], b - lead, v, scratch, rs_shared);
    else if (w.count > 1)
        chain_row(w.chain[1], b - lead - w.chain[0].rows, v, scratch, rs_shared);
}

} // namespace

namespace {

Status check_chain(const RowChainParams &p)
{
    if (!p.x || p.rows < 0 || p.dim <= 0 || p.dim > 8192)
        return Status::invalid("row_chain_cuda: bad rows (dim <= 8192)");
    if (p.positions
        && (!p.freqs || p.rope_dim <= 0 || (p.rope_dim & 1) || p.rows_per_position <= 0
            || p.rope_offset < 0 || p.rope_offset + p.rope_dim > p.dim))
        return Status::invalid("row_chain_cuda: bad rope arguments");
    if (p.hadamard_scale != 0.0f && (p.dim & (p.dim - 1)))
        return Status::invalid("row_chain_cuda: hadamard needs a power-of-two dim");
    if (p.quant != RowQuant::None
        && (p.quant_block <= 0 || p.quant_dims < 0 || p.quant_dims > p.dim))
        return Status::invalid("row_chain_cuda: bad quantisation arguments");
    return Status::success();
}

} // namespace

Status row_chain_cuda(const RowChainParams &p, CUstream_st *stream)
{
    if (Status st = check_chain(p); !st.ok())
        return st;
    if (p.rows == 0)
        return Status::success();
    FATHOM_LAUNCH(p.rows, k_threads, p.dim * sizeof(float), stream, row_chain_kernel)(p);
    return cuda::launch_status();
}

namespace {

// The appends' checks of row_chain_append_cuda; extra: the rows of the segments outside the chain.
Status check_appends(const RowChainParams &chain, const StateAppendParams &appends, int64_t &extra)
{
    if (Status st = check_chain(chain); !st.ok())
        return st;
    if (appends.segments < 0 || appends.segments > k_state_append_segments
        || (appends.segments > 0 && !appends.positions))
        return Status::invalid("row_chain_append_cuda: bad appends");
    extra = 0;
    for (int k = 0; k < appends.segments; ++k) {
        const StateAppendSegment &sg = appends.seg[k];
        if (sg.count < 0 || sg.width < 0 || sg.first < 0 || sg.slot_mask < 0
            || (sg.slot_mask & (sg.slot_mask + 1)) != 0 || (sg.count > 0 && !sg.dst)
            || (sg.ape && (sg.rows != StateRows::F32 || sg.period <= 0))
            || (sg.rows == StateRows::Packed && sg.rope >= sg.width))
            return Status::invalid("row_chain_append_cuda: bad segment");
        if (sg.chain_row >= 0) {
            // The chain's own rows: its width, inside its rows, no ape (nothing writes v).
            if (sg.width != chain.dim || sg.chain_row + sg.count > chain.rows || sg.ape)
                return Status::invalid("row_chain_append_cuda: a chain segment outside the chain");
        } else {
            if (sg.count > 0 && !sg.src)
                return Status::invalid("row_chain_append_cuda: bad segment");
            extra += sg.count;
        }
    }
    return Status::success();
}

} // namespace

Status row_chain_append_cuda(const RowChainParams &chain,
                             const StateAppendParams &appends,
                             int *inexact,
                             CUstream_st *stream)
{
    int64_t extra = 0;
    if (Status st = check_appends(chain, appends, extra); !st.ok())
        return st;
    if (chain.rows + extra == 0)
        return Status::success();
    if (chain.rows + extra > 65535)
        return Status::invalid("row_chain_append_cuda: too many rows");
    FATHOM_LAUNCH(static_cast<int>(chain.rows + extra),
                  k_threads,
                  chain.dim * sizeof(float),
                  stream,
                  row_chain_append_kernel)
    (chain, appends, inexact);
    return cuda::launch_status();
}

Status row_chains_append_cuda(const RowChainParams &chain,
                              const StateAppendParams &appends,
                              const RowChainsWith &with,
                              int *inexact,
                              CUstream_st *stream)
{
    int64_t extra = 0;
    if (Status st = check_appends(chain, appends, extra); !st.ok())
        return st;
    if (with.count < 0 || with.count > k_row_chains_with)
        return Status::invalid("row_chains_append_cuda: bad chain count");
    RowChainsWith w = with;
    int64_t rows = 0;
    int dim = chain.dim;
    for (int k = 0; k < k_row_chains_with; ++k) {
        if (k >= w.count) {
            w.chain[k] = RowChainParams{}; // no blocks: rows 0
            continue;
        }
        if (Status st = check_chain(w.chain[k]); !st.ok())
            return st;
        rows += w.chain[k].rows;
        dim = w.chain[k].dim > dim ? w.chain[k].dim : dim;
    }
    for (int j = 0; j < k_row_chains_prefetch; ++j) {
        if (!w.prefetch[j] || w.prefetch_bytes[j] <= 0) {
            w.prefetch[j] = nullptr;
            w.prefetch_bytes[j] = 0;
        } else if ((reinterpret_cast<uintptr_t>(w.prefetch[j]) & 15u) != 0
                   || (w.prefetch_bytes[j] & 15) != 0) {
            return Status::invalid("row_chains_append_cuda: a prefetch range not 16-byte aligned");
        }
    }
    const int64_t lead = chain.rows + extra;
    if (lead + rows == 0)
        return Status::success();
    if (lead + rows > 65535)
        return Status::invalid("row_chains_append_cuda: too many rows");
    FATHOM_LAUNCH(static_cast<int>(lead + rows),
                  k_threads,
                  dim * sizeof(float),
                  stream,
                  row_chains_append_kernel)
    (chain, appends, w, static_cast<int>(lead), inexact);
    return cuda::launch_status();
}

} // namespace fathom::kernels
