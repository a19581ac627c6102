// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli devices: the CUDA devices this build can use, or why there are none (no driver, no
// GPU, built without CUDA). Exit status 0 either way: "no GPU" is an answer, not an error.
// --json prints {"available", "reason", "driver", "runtime", "devices": [...]}.

#include "commands.h"

#include "engine/api/gpudevices.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace fathom::cli {

int runDevices(const QStringList &args)
{
    bool json = false;
    for (const QString &a : args) {
        if (a == QLatin1String("--json"))
            json = true;
        else
            return usageError("devices", QStringLiteral("unknown argument %1").arg(a));
    }
    const engine::GpuDeviceList list = engine::listCudaDevices();
    if (!json) {
        std::printf("%s", engine::describeCudaDevices(list).c_str());
        return 0;
    }
    nlohmann::ordered_json j;
    j["available"] = list.available;
    j["reason"] = list.unavailableReason;
    j["driver"] = list.driverVersion;
    j["runtime"] = list.runtimeVersion;
    j["devices"] = nlohmann::ordered_json::array();
    for (const engine::GpuDevice &d : list.devices)
        j["devices"].push_back(
            {{"index", d.index},
             {"name", d.name},
             {"memory", d.totalMemory},
             {"compute", std::to_string(d.computeMajor) + "." + std::to_string(d.computeMinor)},
             {"multiprocessors", d.multiprocessors},
             {"supported", d.supported},
             {"note", d.note}});
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
}

} // namespace fathom::cli
