// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Maps CUDA runtime errors to kernels::Status so .cu files never need the engine's Error type.
#include "kernels/status.h"

#include <cuda_runtime.h>

namespace fathom::kernels {

Status cuda_status(cudaError_t err)
{
    if (err == cudaSuccess)
        return Status::success();
    if (err == cudaErrorMemoryAllocation)
        return {StatusCode::OutOfMemory, cudaGetErrorString(err)};
    return {StatusCode::DeviceError, cudaGetErrorString(err)};
}

} // namespace fathom::kernels
