// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  CudaBackend: the Backend of a local model folder run on one CUDA device (CudaExecutor +
  V4Forward + Scheduler), created by createCudaBackend(deviceIndex) (engine/api/backendfactory.h).

  load(): config.json and the mapped safetensors shards (ModelWeights), the per-block model
  (V4Model), the device (CudaExecutor::create: errors name the GPU), the weights uploaded once
  ("uploading to GPU n" progress, cancel honoured), tokenizer.json when present. Sequence states
  live on the device (V4Forward moves them there). Requests, chat encoding, streaming decoding
  and finish reasons are CpuBackend's (same flow; the two are to merge into one backend over an
  Executor).

  Multi-GPU: the device index is the only device-specific input; NCCL comes with
  engine/parallel. Thread: one thread (the engine thread), as Backend says.
*/

#include "engine/api/backend.h"
#include "engine/runtime/scheduler.h"
#include "engine/tokenizer/tokenizer.h"

#include <map>
#include <memory>

namespace fathom::engine {

class CudaExecutor;
class ModelWeights;
class V4Model;
class V4Forward;
class TextRequest;

struct CudaBackendOptions
{
    int device = 0;
    int maxConcurrent = 8; // running requests; more queue
    int stepTokens = 2048; // tokens per forward call (prefill chunk + decode tokens)
    // Prefix reuse for regenerate / edit (scheduler.h), as the CPU backend: finished states kept
    // in device memory, at most keptStateBytes of them; checkpoint spacing (host copies).
    int keptStates = 2;
    int64_t keptStateBytes = int64_t(2) << 30;
    int64_t checkpointInterval = 4096;
    // Exact kernels (the tests' oracle, bit-identical to the CPU's exact mode) or the fast
    // non-exact ones (createCudaBackend in engine/api/backendfactory.h says which).
    bool exactLinear = true;
};

class CudaBackend final : public Backend
{
public:
    explicit CudaBackend(CudaBackendOptions options = {});
    ~CudaBackend() override;

    BackendInfo info() const override;
    Result<void> load(const ModelSpec &spec, const LoadProgressFn &progress) override;
    void unload() override;
    Result<void> submit(GenerationRequest request, TokenSink &sink) override;
    void cancel(RequestId id) override;
    bool step() override;

    // ---- below the Backend interface (CLI, benchmarks, tests) ---------------------------------
    bool isLoaded() const { return m_scheduler != nullptr; }
    Result<void> submitTokens(TokenRequest request, GenerationListener &listener);
    const V4Model *model() const { return m_model.get(); }
    CudaExecutor *executor() { return m_executor.get(); }
    V4Forward *forward() { return m_forward.get(); }

private:
    CudaBackendOptions m_options;
    std::string m_description;
    std::unique_ptr<ModelWeights> m_weights;
    std::unique_ptr<V4Model> m_model;
    std::unique_ptr<CudaExecutor> m_executor;
    std::unique_ptr<V4Forward> m_forward;
    std::unique_ptr<Scheduler> m_scheduler; // destroyed before the executor: it holds states
    tokenizer::Tokenizer m_tokenizer;
    bool m_hasTokenizer = false;
    std::map<RequestId, std::unique_ptr<TextRequest>> m_requests;
};

} // namespace fathom::engine
