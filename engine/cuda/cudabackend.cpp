// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "cudabackend.h"

#include "cudaexecutor.h"
#include "engine/api/backendfactory.h"
#include "engine/api/gpudevices.h"
#include "engine/chat/encoding.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/textrequest.h"
#include "engine/runtime/v4model.h"

#include <cstdlib>
#include <filesystem>

namespace fathom::engine {

CudaBackend::CudaBackend(CudaBackendOptions options)
    : m_options(options)
    , m_description("CUDA GPU " + std::to_string(options.device))
{}

CudaBackend::~CudaBackend()
{
    unload();
}

BackendInfo CudaBackend::info() const
{
    BackendInfo i;
    i.kind = BackendKind::Cuda;
    i.description = m_description;
    i.capabilities.tokenizer = m_hasTokenizer;
    i.capabilities.kvSnapshots = false;
    i.capabilities.logits = true;
    i.capabilities.concurrentRequests = true;
    return i;
}

Result<void> CudaBackend::load(const ModelSpec &spec, const LoadProgressFn &progress)
{
    unload();
    const int device = spec.devices.empty() ? m_options.device : spec.devices.front();
    FATHOM_TRY_ASSIGN(std::unique_ptr<ModelWeights> weights,
                      ModelWeights::load(spec.path, progress));
    FATHOM_TRY_ASSIGN(std::unique_ptr<V4Model> model, V4Model::create(*weights));
    FATHOM_TRY_ASSIGN(std::unique_ptr<CudaExecutor> exec, CudaExecutor::create(device));
    if (!std::getenv("FATHOM_CUDA_EXACT_LINEAR")) // the environment wins (A/B runs)
        exec->setExactLinear(m_options.exactLinear);
    const std::string stage = "uploading to GPU " + std::to_string(device);
    FATHOM_TRY(exec->uploadModel(*model, [&](uint64_t done, uint64_t total) {
        return !progress || progress(LoadProgress{done, total, stage});
    }));

    tokenizer::Tokenizer tok;
    bool hasTokenizer = false;
    const std::string tokPath = (std::filesystem::path(spec.path) / "tokenizer.json").string();
    if (std::filesystem::exists(tokPath)) {
        FATHOM_TRY_ASSIGN(tok, tokenizer::Tokenizer::load(tokPath));
        if (tok.vocabSize() > static_cast<size_t>(weights->config().vocabSize))
            return fail(Error::Kind::Format,
                        tokPath + ": the tokenizer has " + std::to_string(tok.vocabSize())
                            + " ids but the model's vocabulary only "
                            + std::to_string(weights->config().vocabSize));
        hasTokenizer = true;
    }

    m_description = exec->deviceName();
    m_weights = std::move(weights);
    m_model = std::move(model);
    m_executor = std::move(exec);
    m_forward = std::make_unique<V4Forward>(*m_model, *m_executor);
    SchedulerOptions so;
    so.maxConcurrent = m_options.maxConcurrent;
    so.stepTokens = m_options.stepTokens;
    so.contextLength = spec.contextLength;
    so.keptStates = m_options.keptStates;
    so.keptStateBytes = m_options.keptStateBytes;
    so.checkpointInterval = m_options.checkpointInterval;
    m_scheduler = std::make_unique<Scheduler>(*m_forward, m_model->config(), so);
    m_tokenizer = std::move(tok);
    m_hasTokenizer = hasTokenizer;
    return {};
}

void CudaBackend::unload()
{
    m_requests.clear();
    m_scheduler.reset(); // its sequence states hold device memory of the executor
    m_forward.reset();
    m_executor.reset();
    m_model.reset();
    m_weights.reset();
    m_tokenizer = tokenizer::Tokenizer();
    m_hasTokenizer = false;
}

Result<void> CudaBackend::submit(GenerationRequest request, TokenSink &sink)
{
    if (!m_scheduler)
        return fail(Error::Kind::Unavailable, "no model is loaded");
    if (!m_hasTokenizer)
        return fail(Error::Kind::Unavailable,
                    m_weights->directory()
                        + " has no tokenizer.json: only token-level requests can run on this "
                          "model");
    if (m_requests.count(request.id))
        return fail(Error::Kind::InvalidArgument,
                    "request " + std::to_string(request.id) + " is already running");
    std::vector<int32_t> prompt = encodeChatPrompt(m_tokenizer, request);
    auto text = std::make_unique<TextRequest>(request.id, sink, m_tokenizer, request.thinkingMode);
    TokenRequest tr;
    tr.id = request.id;
    tr.prompt = std::move(prompt);
    tr.sampling = request.sampling;
    tr.maxTokens = request.maxTokens;
    FATHOM_TRY(m_scheduler->submit(std::move(tr), *text));
    m_requests.emplace(request.id, std::move(text));
    return {};
}

Result<void> CudaBackend::submitTokens(TokenRequest request, GenerationListener &listener)
{
    if (!m_scheduler)
        return fail(Error::Kind::Unavailable, "no model is loaded");
    return m_scheduler->submit(std::move(request), listener);
}

void CudaBackend::cancel(RequestId id)
{
    if (m_scheduler)
        m_scheduler->cancel(id);
}

bool CudaBackend::step()
{
    if (!m_scheduler)
        return false;
    const bool more = m_scheduler->step();
    std::erase_if(m_requests, [](const auto &kv) { return kv.second->done(); });
    return more;
}

Result<std::unique_ptr<Backend>> createCudaBackend(int deviceIndex, bool exactLinear)
{
    const GpuDeviceList list = listCudaDevices();
    if (!list.available)
        return fail(Error::Kind::Unavailable, "CUDA is unavailable: " + list.unavailableReason);
    for (const GpuDevice &d : list.devices) {
        if (d.index != deviceIndex)
            continue;
        if (!d.supported)
            return fail(Error::Kind::Unavailable, d.name + ": " + d.note);
        CudaBackendOptions o;
        o.device = deviceIndex;
        o.exactLinear = exactLinear;
        return std::unique_ptr<Backend>(std::make_unique<CudaBackend>(o));
    }
    return fail(Error::Kind::Unavailable,
                "no CUDA device " + std::to_string(deviceIndex) + " (found "
                    + std::to_string(list.devices.size()) + ")");
}

} // namespace fathom::engine
