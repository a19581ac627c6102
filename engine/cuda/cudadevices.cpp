// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// listCudaDevices() of a CUDA build. The runtime is linked statically (libcudart_static), which
// opens the driver library only now, so a machine without libcuda.so gets an answer here
// instead of a loader error at start-up.
#include "engine/api/gpudevices.h"

#include <cuda_runtime.h>

#include <cstdio>

namespace fathom::engine {

namespace {

std::string versionString(int v)
{
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

} // namespace

GpuDeviceList listCudaDevices()
{
    GpuDeviceList list;
    int runtime = 0;
    if (cudaRuntimeGetVersion(&runtime) == cudaSuccess)
        list.runtimeVersion = versionString(runtime);
    int driver = 0;
    if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0)
        list.driverVersion = versionString(driver);
    if (driver == 0) {
        list.unavailableReason = "no NVIDIA driver found (libcuda.so could not be loaded); install "
                                 "the NVIDIA driver to use the GPU";
        return list;
    }
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        cudaGetLastError();
        if (e == cudaErrorInsufficientDriver)
            list.unavailableReason = "the NVIDIA driver (CUDA " + list.driverVersion
                                     + ") is older than this build's CUDA runtime ("
                                     + list.runtimeVersion + "); update the driver";
        else if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0))
            list.unavailableReason = "no CUDA-capable GPU found";
        else
            list.unavailableReason = std::string("CUDA initialisation failed: ")
                                     + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
        return list;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
            cudaGetLastError();
            continue;
        }
        GpuDevice d;
        d.index = i;
        d.name = p.name;
        d.totalMemory = p.totalGlobalMem;
        d.computeMajor = p.major;
        d.computeMinor = p.minor;
        d.multiprocessors = p.multiProcessorCount;
        // The kernels are built for sm_80 and sm_90a (cmake/FathomCuda.cmake); older GPUs lack
        // the instructions they use.
        d.supported = p.major >= 8;
        if (!d.supported)
            d.note = "compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor)
                     + " is older than the 8.0 this build needs";
        list.devices.push_back(std::move(d));
    }
    list.available = false;
    for (const GpuDevice &d : list.devices)
        list.available = list.available || d.supported;
    if (!list.available)
        list.unavailableReason = "no supported CUDA GPU (compute capability 8.0 or newer) found";
    return list;
}

} // namespace fathom::engine
