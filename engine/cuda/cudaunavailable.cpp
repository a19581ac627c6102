// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// The CUDA entry points of a build without CUDA (FATHOM_CUDA=OFF, or AUTO without nvcc): they
// answer with the reason, so callers need no #ifdef.
#include "engine/api/backendfactory.h"
#include "engine/api/gpudevices.h"

namespace fathom::engine {

namespace {
constexpr const char *kNoCuda = "this build of Fathom has no CUDA support (built without the "
                                "CUDA toolkit)";
}

GpuDeviceList listCudaDevices()
{
    GpuDeviceList list;
    list.unavailableReason = kNoCuda;
    return list;
}

Result<std::unique_ptr<Backend>> createCudaBackend(int, bool)
{
    return fail(Error::Kind::Unavailable, kNoCuda);
}

} // namespace fathom::engine
