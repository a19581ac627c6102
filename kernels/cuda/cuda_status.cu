// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Maps CUDA runtime errors to kernels::Status so .cu files never need the engine's Error type.
#include "cuda_common.cuh"
#include "kernels/cuda_ops.h"
#include "kernels/status.h"

#include <cuda_runtime.h>

#include <atomic>

namespace fathom::kernels {

namespace {
std::atomic<int> g_pdl_mode{-1};
} // namespace

void set_cuda_pdl(int mode)
{
    g_pdl_mode.store(mode < 0 ? -1 : (mode ? 1 : 0), std::memory_order_relaxed);
}

bool cuda::pdl_enabled()
{
    if (g_pdl_mode.load(std::memory_order_relaxed) == 0)
        return false;
    // griddepcontrol needs sm_90; older devices launch without the attribute.
    static int capable[64] = {};
    return cuda::once_per_device(capable, [](int dev) {
        int major = 0;
        return cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess
               && major >= 9;
    });
}

bool cuda_pdl_enabled()
{
    return cuda::pdl_enabled();
}

Status cuda_status(cudaError_t err)
{
    if (err == cudaSuccess)
        return Status::success();
    if (err == cudaErrorMemoryAllocation)
        return {StatusCode::OutOfMemory, cudaGetErrorString(err)};
    return {StatusCode::DeviceError, cudaGetErrorString(err)};
}

} // namespace fathom::kernels
