// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Run-time detection of CUDA devices, for the UI's device list and the backend choice. Always
  linked: a build without CUDA answers "unavailable" with the reason, and a CUDA build links the
  CUDA runtime statically and asks the driver only here, so the app starts on machines without a
  GPU or an NVIDIA driver (libcuda.so is loaded by the runtime on first use, not at start-up).

  Thread: any; the first call may take a moment (the driver initialises). Cheap afterwards.
*/

#include <cstdint>
#include <string>
#include <vector>

namespace fathom::engine {

struct GpuDevice
{
    int index = 0;                 // CUDA device ordinal (ModelSpec::devices, createCudaBackend)
    std::string name;              // "NVIDIA H200"
    std::uint64_t totalMemory = 0; // bytes
    int computeMajor = 0;          // compute capability, e.g. 9.0 for Hopper
    int computeMinor = 0;
    int multiprocessors = 0;
    bool supported = false; // this build has kernels for it (compute capability >= 8.0)
    std::string note;       // why not supported, when !supported
};

struct GpuDeviceList
{
    bool available = false;        // CUDA usable: built with CUDA, driver present, >= 1 device
    std::string unavailableReason; // in words, when !available
    std::string driverVersion;     // "13.0" (empty when no driver)
    std::string runtimeVersion;    // CUDA runtime this build links ("13.0"; empty without CUDA)
    std::vector<GpuDevice> devices;
};

// Lists the CUDA devices or says why there are none (built without CUDA, no driver, no device).
GpuDeviceList listCudaDevices();

// "GPU 0: NVIDIA H200, 139.8 GiB, compute 9.0" per device, or the reason; for logs and the CLI.
std::string describeCudaDevices(const GpuDeviceList &list);

} // namespace fathom::engine
