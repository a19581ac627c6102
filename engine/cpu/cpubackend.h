// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  CpuBackend: the Backend of a local model folder run on the host CPU (CpuExecutor + V4Forward +
  Scheduler).

  load(): config.json and the safetensors shards (ModelWeights, progress and cancel through the
  callback), the per-block model (V4Model), then tokenizer.json when the folder has one. Without
  a tokenizer the backend still runs token-level requests (submitTokens(): tests, benchmarks)
  but refuses chat requests, and capabilities().tokenizer says so.

  submit(): the messages are encoded with the V4 prompt format (engine/chat, thinking mode and
  reasoning effort from the request), tokenized with added tokens matched, and queued on the
  scheduler. Generated ids are decoded with special tokens kept (spec §8: `</think>` and the DSML
  markers must survive) through the streaming UTF-8 decoder into the incremental completion
  parser, which splits reasoning from content and recognises tool calls; the sink gets the
  deltas. Finish reasons: Stop (EOS), ToolCalls (EOS after a tool-call block), Length (max tokens
  or the context), Cancelled.

  Regenerating an answer or editing a message resubmits the conversation; the scheduler then
  reuses the kept state of the previous request up to the common prefix (SequenceState
  truncation, exact), so only the changed tail is prefilled (stats: cachedPromptTokens).

  step() runs one scheduler step: one forward call shared by every running request (continuous
  batching; see scheduler.h). Thread: one thread (the engine thread), as Backend says.
*/

#include "engine/api/backend.h"
#include "engine/runtime/scheduler.h"
#include "engine/tokenizer/tokenizer.h"

#include <map>
#include <memory>

namespace fathom::engine {

class CpuExecutor;
class ModelWeights;
class V4Model;
class V4Forward;
class TextRequest;

struct CpuBackendOptions
{
    int threads = 0;         // 0: kernels::cpu_physical_threads() (FATHOM_THREADS overrides)
    int maxConcurrent = 8;   // running requests; more queue
    int stepTokens = 256;    // tokens per forward call (prefill chunk + decode tokens)
    bool exactLinear = true; // CpuExecutor: exact block sums (reference numerics)
    // Prefix reuse for regenerate / edit (scheduler.h): finished states kept, checkpoint spacing.
    int keptStates = 2;
    int64_t keptStateBytes = int64_t(2) << 30; // and at most 2 GiB of them
    int64_t checkpointInterval = 4096;
};

class CpuBackend final : public Backend
{
public:
    explicit CpuBackend(CpuBackendOptions options = {});
    ~CpuBackend() override;

    BackendInfo info() const override;
    Result<void> load(const ModelSpec &spec, const LoadProgressFn &progress) override;
    void unload() override;
    Result<void> submit(GenerationRequest request, TokenSink &sink) override;
    void cancel(RequestId id) override;
    bool step() override;

    // ---- below the Backend interface (CLI, benchmarks, tests) ---------------------------------
    bool isLoaded() const { return m_scheduler != nullptr; }
    // Token-level request straight to the scheduler (no chat encoding, no text).
    Result<void> submitTokens(TokenRequest request, GenerationListener &listener);
    // The prompt token ids submit() would feed for this request.
    Result<std::vector<int32_t>> encodePrompt(const GenerationRequest &request) const;
    const tokenizer::Tokenizer *tokenizer() const;
    const ModelWeights *weights() const { return m_weights.get(); }
    const V4Model *model() const { return m_model.get(); }
    Scheduler *scheduler() { return m_scheduler.get(); }
    int threadCount() const;

private:
    CpuBackendOptions m_options;
    std::unique_ptr<CpuExecutor> m_executor;
    std::unique_ptr<ModelWeights> m_weights;
    std::unique_ptr<V4Model> m_model;
    std::unique_ptr<V4Forward> m_forward;
    std::unique_ptr<Scheduler> m_scheduler;
    tokenizer::Tokenizer m_tokenizer;
    bool m_hasTokenizer = false;
    std::map<RequestId, std::unique_ptr<TextRequest>> m_requests;
};

} // namespace fathom::engine
