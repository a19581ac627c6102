// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  A probe of cuda::grid_barrier (cuda_common.cuh), for tests and the device's barrier cost: one
  persistent 1-D grid runs `phases` phases with a grid barrier between each two. In phase 0 each
  block writes its own slot; in phase p > 0 it reads every block's slot of phase p - 1 and writes

      slots[p][b] = (sum over j of slots[p - 1][j]) * 31 + b + p        (uint32, wrapping)

  so a block that passes a barrier before every block has arrived (or sees a stale slot) reads a
  value another block has not written yet, and the results differ in any block order (the test
  fills the slots with a poison before each run). The reads are plain loads, as a GEMV chain's
  phase reads the previous phase's rows: the barrier's acquire must make them fresh.
  Static shared memory holds only the block's partial sums, never a value across a barrier (the
  emulation shares static __shared__ between blocks, see tests/gpu/emu/cuda_runtime.h).
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_probe_threads = 128;

__device__ inline uint32_t probe_seed(uint32_t b)
{
    return b * 2654435761u + 12345u;
}

__global__ void __launch_bounds__(k_probe_threads)
    grid_barrier_probe_kernel(cuda::grid_barrier_state *state, uint32_t *slots, int phases)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ uint32_t s_part[k_probe_threads / 32];
    const unsigned blocks = gridDim.x;
    const unsigned b = blockIdx.x;
    const unsigned t = threadIdx.x;
    if (t == 0)
        slots[b] = probe_seed(b);
    for (int p = 1; p < phases; ++p) {
        if (!cuda::grid_barrier(state, blocks))
            return; // timed out (state->timed_out set): the slots are not to be trusted
        const uint32_t *prev = slots + static_cast<size_t>(p - 1) * blocks;
        uint32_t sum = 0;
        for (unsigned j = t; j < blocks; j += k_probe_threads)
            sum += prev[j];
        for (int o = 16; o > 0; o >>= 1)
            sum += __shfl_xor_sync(0xFFFFFFFFu, sum, o);
        if (t % 32 == 0)
            s_part[t / 32] = sum;
        __syncthreads();
        if (t == 0) {
            uint32_t all = 0;
            for (int w = 0; w < k_probe_threads / 32; ++w)
                all += s_part[w];
            slots[static_cast<size_t>(p) * blocks + b] = all * 31u + b + static_cast<uint32_t>(p);
        }
        // The next barrier starts with __syncthreads: s_part is read before it is rewritten.
    }
}

} // namespace

int grid_barrier_probe_max_blocks()
{
    return cuda::co_resident_blocks(grid_barrier_probe_kernel, k_probe_threads, 0);
}

Status grid_barrier_probe_cuda(
    void *state, uint32_t *slots, int blocks, int phases, CUstream_st *stream, bool check_resident)
{
    if (!state || !slots || blocks <= 0 || phases <= 0)
        return Status::invalid("grid_barrier_probe_cuda: bad arguments");
    if (check_resident) {
        const int most = grid_barrier_probe_max_blocks();
        if (most <= 0)
            return {StatusCode::DeviceError,
                    "grid_barrier_probe_cuda: the device's co-resident blocks cannot be asked"};
        if (blocks > most)
            return Status::invalid(
                "grid_barrier_probe_cuda: more blocks than the device holds at once (a grid "
                "barrier would never complete)");
    }
    FATHOM_LAUNCH(blocks, k_probe_threads, 0, stream, grid_barrier_probe_kernel)
    (static_cast<cuda::grid_barrier_state *>(state), slots, phases);
    return cuda::launch_status();
}

} // namespace fathom::kernels
