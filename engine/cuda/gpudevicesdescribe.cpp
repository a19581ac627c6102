// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "engine/api/gpudevices.h"

#include <cstdio>

namespace fathom::engine {

std::string describeCudaDevices(const GpuDeviceList &list)
{
    std::string out;
    for (const GpuDevice &d : list.devices) {
        char buf[256];
        std::snprintf(buf,
                      sizeof buf,
                      "GPU %d: %s, %.1f GiB, compute %d.%d, %d SMs%s%s\n",
                      d.index,
                      d.name.c_str(),
                      static_cast<double>(d.totalMemory) / (1ull << 30),
                      d.computeMajor,
                      d.computeMinor,
                      d.multiprocessors,
                      d.supported ? "" : " - not supported: ",
                      d.note.c_str());
        out += buf;
    }
    if (!list.available)
        out += "CUDA unavailable: " + list.unavailableReason + "\n";
    return out;
}

} // namespace fathom::engine
