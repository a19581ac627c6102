// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

// The counting sort of moe_group_cuda (moe_group.cu), shared with the fused routing + grouping
// launch (moe_route.cu, moe_route_group_cuda): one block groups the n = rows·k (row, slot)
// pairs of ids by expert. `id(i)` reads pair i's expert id (a plain load, or past L1 when other
// blocks of the same launch wrote the ids). start: shared memory of 2·n_experts + 1 ints.

#include "cuda_common.cuh"

namespace fathom::kernels::cuda {

// group_pairs' `start` in bytes (the launches' dynamic shared memory).
inline size_t group_smem_bytes(int n_experts)
{
    return sizeof(int) * (2 * static_cast<size_t>(n_experts) + 1);
}

struct PlainIds
{
    const int32_t *ids;
    __device__ int operator()(int i) const { return ids[i]; }
};

template<typename IdAt>
__device__ void group_pairs(const IdAt &id,
                            int n,
                            int k,
                            int n_experts,
                            int32_t *offsets,
                            int32_t *active,
                            int slots,
                            int32_t *src_row,
                            int32_t *slot_index,
                            int *start)
{
    int *count = start + n_experts + 1; // [n_experts]
    for (int e = threadIdx.x; e < n_experts; e += blockDim.x)
        count[e] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const int e = id(i);
        if (e >= 0 && e < n_experts)
            atomicAdd(&count[e], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int at = 0, a = 0;
        for (int e = 0; e < n_experts; ++e) {
            start[e] = at;
            offsets[e] = at;
            at += count[e];
            if (count[e] > 0 && a < slots)
                active[a++] = e;
        }
        start[n_experts] = at;
        offsets[n_experts] = at;
        for (; a < slots; ++a)
            active[a] = -1;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < n_experts; e += blockDim.x) {
        int at = start[e];
        if (count[e] == 0)
            continue;
        for (int i = 0; i < n; ++i)
            if (id(i) == e) {
                src_row[at] = i / k;
                slot_index[at] = i;
                ++at;
            }
    }
}

} // namespace fathom::kernels::cuda
