// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  MoE routing (moe.h moe_route_cpu): sqrtsoftplus scores, bias for selection only, top-k (ties by
  lower expert id, radix order as topk_cpu), weights s/Σs · route_scale.

  One block per token, one thread per expert (moe_route.cuh route_token, shared with the gate
  GEMV + routing launch in linear_gemv.cu). The k winners are found by k rounds of a block
  arg-max over the packed (order key, inverted id) pairs, which yields exactly topk_cpu's order.
  Hash layers pass forced_ids (tid2eid rows); an id out of range writes id −1 and a NaN weight
  (the CPU twin returns InvalidArgument; a kernel cannot, and the table is validated at load).
  The weight sum is taken by one thread in the order of the ids, in double, as on the CPU.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "moe_group.cuh"
#include "moe_route.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256;
constexpr int k_max_experts = cuda::k_route_max_experts;
constexpr int k_max_topk = cuda::k_route_max_topk;

// Token blockIdx.x's routing (one block); thread 0 stores its ids and weights.
__device__ void route_token(const MoeRouteParams &p)
{
    cuda::route_token(p,
                      blockIdx.x,
                      cuda::PlainLogits{p.logits + static_cast<int64_t>(blockIdx.x) * p.n_experts});
}

__global__ void __launch_bounds__(k_threads) moe_route_kernel(MoeRouteParams p)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    route_token(p);
}

// Past L1 (not coherent between blocks): the other blocks' stores of the ids.
struct CgIds
{
    const int32_t *ids;
    __device__ int operator()(int i) const { return cuda::load_cg(ids + i); }
};

// nodes2: routing and grouping in one launch (moe_route_group_cuda). Every token's block
// routes as moe_route_kernel; thread 0 publishes its ids (stores, fence, count); the launch's
// last block to count (counter left at 0 again for the next launch or a graph replay) groups
// all tokens' ids as moe_group_kernel, reading them past L1.
__global__ void __launch_bounds__(k_threads) moe_route_group_kernel(MoeRouteParams p,
                                                                    int32_t *offsets,
                                                                    int32_t *active,
                                                                    int slots,
                                                                    int32_t *src_row,
                                                                    int32_t *slot_index,
                                                                    int *counter)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(int, start); // [2 * n_experts + 1]
    route_token(p);
    // The ids (thread 0's stores) published; the launch's last block groups them all.
    if (!cuda::arrive_last(counter, static_cast<int>(gridDim.x)))
        return;
    cuda::group_pairs(CgIds{p.ids},
                      p.tokens * p.topk,
                      p.topk,
                      p.n_experts,
                      offsets,
                      active,
                      slots,
                      src_row,
                      slot_index,
                      start);
}

} // namespace

Status moe_route_cuda(const MoeRouteParams &p, CUstream_st *stream)
{
    if (!p.logits || !p.ids || !p.weights || p.n_experts <= 0 || p.topk <= 0 || p.topk > p.n_experts
        || p.tokens < 0)
        return Status::invalid("moe_route_cuda: bad arguments");
    if (p.n_experts > k_max_experts || p.topk > k_max_topk)
        return Status::unsupported("moe_route_cuda: at most 1024 experts and top-16");
    if (p.tokens == 0)
        return Status::success();
    FATHOM_LAUNCH(p.tokens, k_threads, 0, stream, moe_route_kernel)(p);
    return cuda::launch_status();
}

Status moe_route_group_cuda(const MoeRouteParams &p,
                            int32_t *offsets,
                            int32_t *active,
                            int slots,
                            int32_t *src_row,
                            int32_t *slot_index,
                            int *counter,
                            CUstream_st *stream)
{
    if (!cuda::route_group_args_ok(p, offsets, active, slots, src_row, slot_index, counter))
        return Status::invalid("moe_route_group_cuda: bad arguments");
    if (p.n_experts > k_max_experts || p.topk > k_max_topk)
        return Status::unsupported("moe_route_group_cuda: at most 1024 experts and top-16");
    if (p.tokens == 0)
        return Status::success();
    FATHOM_LAUNCH(p.tokens,
                  k_threads,
                  cuda::group_smem_bytes(p.n_experts),
                  stream,
                  moe_route_group_kernel)
    (p, offsets, active, slots, src_row, slot_index, counter);
    return cuda::launch_status();
}

} // namespace fathom::kernels
