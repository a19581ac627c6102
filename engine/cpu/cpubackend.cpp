// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "engine/cpu/cpubackend.h"

#include "engine/api/backendfactory.h"
#include "engine/chat/encoding.h"
#include "engine/cpu/cpuexecutor.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/textrequest.h"
#include "engine/runtime/v4model.h"
#include "kernels/cpu_features.h"

#include <filesystem>

namespace fathom::engine {

CpuBackend::CpuBackend(CpuBackendOptions options)
    : m_options(options)
{}

CpuBackend::~CpuBackend() = default;

int CpuBackend::threadCount() const
{
    if (m_executor)
        return m_executor->pool().thread_count();
    return m_options.threads > 0 ? m_options.threads : kernels::cpu_physical_threads();
}

BackendInfo CpuBackend::info() const
{
    BackendInfo i;
    i.kind = BackendKind::Cpu;
    i.description = "CPU (" + std::to_string(threadCount()) + " threads, "
                    + (kernels::cpu_has_avx512()     ? "AVX-512"
                       : kernels::cpu_has_avx2_fma() ? "AVX2"
                                                     : "portable")
                    + ")";
    i.capabilities.tokenizer = m_hasTokenizer;
    i.capabilities.kvSnapshots = false; // SequenceState can; the Backend API does not expose it yet
    i.capabilities.logits = true;
    i.capabilities.concurrentRequests = true;
    return i;
}

Result<void> CpuBackend::load(const ModelSpec &spec, const LoadProgressFn &progress)
{
    unload();
    if (!m_executor)
        m_executor = std::make_unique<CpuExecutor>(m_options.threads, m_options.exactLinear);
    FATHOM_TRY_ASSIGN(std::unique_ptr<ModelWeights> weights,
                      ModelWeights::load(spec.path, progress));
    const uint64_t total = weights->weightBytes();
    if (progress && !progress(LoadProgress{total, total, "preparing the model"}))
        return fail(Error::Kind::Cancelled, "loading " + spec.path + " was cancelled");
    FATHOM_TRY_ASSIGN(std::unique_ptr<V4Model> model, V4Model::create(*weights));

    tokenizer::Tokenizer tok;
    bool hasTokenizer = false;
    const std::string tokPath = (std::filesystem::path(spec.path) / "tokenizer.json").string();
    if (std::filesystem::exists(tokPath)) {
        if (progress && !progress(LoadProgress{total, total, "loading the tokenizer"}))
            return fail(Error::Kind::Cancelled, "loading " + spec.path + " was cancelled");
        FATHOM_TRY_ASSIGN(tok, tokenizer::Tokenizer::load(tokPath));
        if (tok.vocabSize() > static_cast<size_t>(weights->config().vocabSize))
            return fail(Error::Kind::Format,
                        tokPath + ": the tokenizer has " + std::to_string(tok.vocabSize())
                            + " ids but the model's vocabulary only "
                            + std::to_string(weights->config().vocabSize));
        hasTokenizer = true;
    }

    m_weights = std::move(weights);
    m_model = std::move(model);
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

void CpuBackend::unload()
{
    // Requests in flight are dropped without callbacks: their sinks belong to the caller, who
    // asked for the unload.
    m_requests.clear();
    m_scheduler.reset();
    m_forward.reset();
    m_model.reset();
    m_weights.reset();
    m_tokenizer = tokenizer::Tokenizer();
    m_hasTokenizer = false;
}

const tokenizer::Tokenizer *CpuBackend::tokenizer() const
{
    return m_hasTokenizer ? &m_tokenizer : nullptr;
}

Result<std::vector<int32_t>> CpuBackend::encodePrompt(const GenerationRequest &request) const
{
    if (!m_scheduler)
        return fail(Error::Kind::Unavailable, "no model is loaded");
    if (!m_hasTokenizer)
        return fail(Error::Kind::Unavailable,
                    m_weights->directory()
                        + " has no tokenizer.json: only token-level requests "
                          "can run on this model");
    return encodeChatPrompt(m_tokenizer, request);
}

Result<void> CpuBackend::submit(GenerationRequest request, TokenSink &sink)
{
    FATHOM_TRY_ASSIGN(std::vector<int32_t> prompt, encodePrompt(request));
    if (m_requests.count(request.id))
        return fail(Error::Kind::InvalidArgument,
                    "request " + std::to_string(request.id) + " is already running");
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

Result<void> CpuBackend::submitTokens(TokenRequest request, GenerationListener &listener)
{
    if (!m_scheduler)
        return fail(Error::Kind::Unavailable, "no model is loaded");
    return m_scheduler->submit(std::move(request), listener);
}

void CpuBackend::cancel(RequestId id)
{
    if (m_scheduler)
        m_scheduler->cancel(id);
}

bool CpuBackend::step()
{
    if (!m_scheduler)
        return false;
    const bool more = m_scheduler->step();
    // Listeners are deleted only here, after the scheduler has stopped calling them.
    std::erase_if(m_requests, [](const auto &kv) { return kv.second->done(); });
    return more;
}

std::unique_ptr<Backend> createCpuBackend(int threads)
{
    CpuBackendOptions o;
    o.threads = threads;
    return std::make_unique<CpuBackend>(o);
}

} // namespace fathom::engine
