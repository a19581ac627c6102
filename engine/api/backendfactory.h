// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Factories for the local backends, so composition roots (EngineHost, fathom-cli) do not need the
  backends' headers. Each is defined next to its backend (createCpuBackend in
  engine/cpu/cpubackend.cpp, createCudaBackend in engine/cuda/cudabackend.cpp, or in
  engine/cuda/cudaunavailable.cpp for builds without CUDA).
*/

#include "engine/api/backend.h"
#include "engine/core/error.h"

#include <memory>

namespace fathom::engine {

// threads <= 0: the physical core count (FATHOM_THREADS overrides).
std::unique_ptr<Backend> createCpuBackend(int threads = 0);

// One GPU (CUDA device ordinal `deviceIndex`, see listCudaDevices() in gpudevices.h). Fails with
// Kind::Unavailable and the reason when CUDA cannot be used here (built without CUDA, no driver,
// no such device); the device itself is touched only by load(). exactLinear: the exact kernels
// (bit-identical to the CPU engine's exact mode: the tests' oracle); false: cuBLASLt and the
// tensor-core GEMMs, indexer and attention (FP8 tensor-core sums, as the reference runs on
// GPUs), what the app uses. FATHOM_CUDA_EXACT_LINEAR in the environment overrides it.
Result<std::unique_ptr<Backend>> createCudaBackend(int deviceIndex = 0, bool exactLinear = true);

} // namespace fathom::engine
