// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "backendfactory.h"

#include "engine/api/backendfactory.h"
#include "engine/api/gpudevices.h"

#include <QCoreApplication>

#if __has_include("engine/remote/remotebackend.h") && defined(FATHOM_HAVE_REMOTE)
#include "engine/remote/remotebackend.h"
#define FATHOM_ENGINEHOST_REMOTE 1
#endif
#if __has_include("engine/cpu/cpubackend.h")
#include "engine/cpu/cpubackend.h"
#define FATHOM_ENGINEHOST_CPU 1
#endif

#include <thread>

namespace fathom {

Result<std::unique_ptr<engine::Backend>> createBackend(const BackendChoice &choice)
{
    switch (choice.kind) {
    case BackendChoice::Kind::Cpu: {
#ifdef FATHOM_ENGINEHOST_CPU
        // The app runs the linears as the reference does (fp32 sums per weight block, spec
        // 6.3; checked against the golden data by tst_v4golden_fp32); the exact block sums
        // are the tests' numerical oracle and cost 2-3x the time.
        engine::CpuBackendOptions options;
        options.exactLinear = false;
        return std::unique_ptr<engine::Backend>(std::make_unique<engine::CpuBackend>(options));
#else
        return fail(Error::Kind::Unavailable,
                    QCoreApplication::translate(
                        "BackendFactory", "The CPU engine is not part of this build of Fathom."));
#endif
    }
    case BackendChoice::Kind::Cuda: {
        // One GPU for now (multi-GPU comes with NCCL): the first device the user picked. As
        // on the CPU, the app runs the linears as the reference does on GPUs (FP8 tensor-core
        // sums, cuBLASLt / tensor-core kernels); the exact kernels are the tests' oracle.
        const int device = choice.devices.isEmpty() ? 0 : choice.devices.front();
        auto backend = engine::createCudaBackend(device, /*exactLinear=*/false);
        if (!backend)
            return fail(Error::Kind::Unavailable,
                        QCoreApplication::translate("BackendFactory",
                                                    "The CUDA backend cannot be used: %1")
                            .arg(QString::fromStdString(backend.error().message)));
        return std::move(*backend);
    }
    case BackendChoice::Kind::Remote: {
#ifdef FATHOM_ENGINEHOST_REMOTE
        engine::remote::RemoteConfig config;
        config.name = choice.remoteName.toStdString();
        config.baseUrl = choice.remoteUrl.toStdString();
        config.apiKey = choice.remoteApiKey.toStdString();
        config.caBundlePath = choice.remoteCaBundle.toStdString();
        config.proxy = choice.remoteProxy.toStdString();
        return std::unique_ptr<engine::Backend>(
            std::make_unique<engine::remote::RemoteBackend>(std::move(config)));
#else
        return fail(Error::Kind::Unavailable,
                    QCoreApplication::translate(
                        "BackendFactory",
                        "This build of Fathom has no remote-server support (built without "
                        "libcurl)."));
#endif
    }
    }
    return fail(Error::Kind::Internal,
                QCoreApplication::translate("BackendFactory", "Unknown backend kind."));
}

engine::BackendInfo describeBackend(BackendChoice::Kind kind)
{
    engine::BackendInfo info;
    switch (kind) {
    case BackendChoice::Kind::Cpu:
        info.kind = engine::BackendKind::Cpu;
        info.description = QStringLiteral("CPU (%1 threads)")
                               .arg(std::max(1u, std::thread::hardware_concurrency()))
                               .toStdString();
        info.capabilities.tokenizer = true;
#ifndef FATHOM_ENGINEHOST_CPU
        info.available = false;
        info.unavailableReason
            = QCoreApplication::translate("BackendFactory",
                                          "The CPU engine is not part of this build of Fathom.")
                  .toStdString();
#endif
        break;
    case BackendChoice::Kind::Cuda: {
        info.kind = engine::BackendKind::Cuda;
        info.description = "NVIDIA CUDA";
        // Asks the driver (once it is loaded, cheap); the answer says why when CUDA is unusable.
        const engine::GpuDeviceList gpus = engine::listCudaDevices();
        info.available = gpus.available;
        if (gpus.available)
            info.description = engine::describeCudaDevices(gpus);
        else
            info.unavailableReason = gpus.unavailableReason;
        break;
    }
    case BackendChoice::Kind::Remote:
        info.kind = engine::BackendKind::Remote;
        info.description
            = QCoreApplication::translate("BackendFactory",
                                          "OpenAI-compatible server (vLLM, SGLang, DeepSeek API)")
                  .toStdString();
#ifndef FATHOM_ENGINEHOST_REMOTE
        info.available = false;
        info.unavailableReason
            = QCoreApplication::translate("BackendFactory",
                                          "This build of Fathom has no remote-server support.")
                  .toStdString();
#endif
        break;
    }
    return info;
}

} // namespace fathom
