// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  MoE row grouping on the device (moe_group_cuda): a counting sort of the (row, slot) pairs of a
  layer by expert id, in one block, so that the expert GEMMs, the gathers and the scatter read
  their row lists from device memory and a decode step needs no read-back of the expert ids.

  Counting: shared-memory atomics (order-free). Offsets and the active-expert list: one thread,
  serially (n_experts is a few hundred). Placement: thread t fills the experts t, t + blockDim,
  ... by scanning the ids in order, so each expert's pairs stay in increasing row·k + j order,
  exactly the host grouping's order (and deterministic).
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "moe_group.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256;

__global__ void __launch_bounds__(k_threads) moe_group_kernel(const int32_t *ids,
                                                              int n,
                                                              int k,
                                                              int n_experts,
                                                              int32_t *offsets,
                                                              int32_t *active,
                                                              int slots,
                                                              int32_t *src_row,
                                                              int32_t *slot_index)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(int, start); // [2 * n_experts + 1]
    cuda::group_pairs(
        cuda::PlainIds{ids}, n, k, n_experts, offsets, active, slots, src_row, slot_index, start);
}

} // namespace

Status moe_group_cuda(const int32_t *ids,
                      int rows,
                      int k,
                      int n_experts,
                      int32_t *offsets,
                      int32_t *active,
                      int slots,
                      int32_t *src_row,
                      int32_t *slot_index,
                      CUstream_st *stream)
{
    if (rows < 0 || k <= 0 || n_experts <= 0 || n_experts > 4096 || slots < 0)
        return Status::invalid("moe_group_cuda: bad shape");
    if (!ids || !offsets || (slots > 0 && !active) || (rows > 0 && (!src_row || !slot_index)))
        return Status::invalid("moe_group_cuda: null pointer");
    const size_t smem = cuda::group_smem_bytes(n_experts);
    FATHOM_LAUNCH(1, k_threads, smem, stream, moe_group_kernel)
    (ids, rows * k, k, n_experts, offsets, active, slots, src_row, slot_index);
    return cuda::launch_status();
}

} // namespace fathom::kernels
