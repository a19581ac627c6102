// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Backend: what the app sees of an inference engine (ARCHITECTURE.md, "Engine interfaces").
  Kinds: CPU, CUDA (one GPU), CUDA multi-GPU (NCCL), remote OpenAI-compatible server. The remote
  kind has no tokenizer and no KV cache; `BackendInfo::capabilities` says what each kind can do.

  Thread: a Backend is used from one thread only (the engine thread, inside EngineHost). Nothing
  in it blocks on another thread; long work is split into step() calls so that cancel() is
  honoured between steps. Sinks are called on that same thread, from inside step().
*/

#include "engine/chat/message.h"
#include "engine/core/error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fathom::engine {

enum class BackendKind { Cpu, Cuda, CudaMultiGpu, Remote };

struct BackendCapabilities
{
    bool tokenizer = false;      // can count tokens locally
    bool kvSnapshots = false;    // can save/restore sequence state
    bool logits = false;         // exposes raw logits (tests, benchmarks)
    bool concurrentRequests = false;
};

struct BackendInfo
{
    BackendKind kind = BackendKind::Cpu;
    std::string description;       // e.g. "CPU (2 threads, AVX2)", "NVIDIA H200 (139 GiB)"
    BackendCapabilities capabilities;
    bool available = true;
    std::string unavailableReason; // why not, in words, when !available
};

struct ModelSpec
{
    std::string path;        // local model folder (config.json, tokenizer.json, *.safetensors)
    std::string id;          // model id ("deepseek-v4-flash", or the remote server's id)
    int contextLength = 0;   // 0 = the model's maximum
    std::vector<int> devices; // GPU indices for CUDA kinds; empty = default
};

struct LoadProgress
{
    std::uint64_t bytesDone = 0;
    std::uint64_t bytesTotal = 0;
    std::string stage; // "reading config", "mapping weights", "uploading to GPU 0", ...
};
// Return false to cancel loading.
using LoadProgressFn = std::function<bool(const LoadProgress &)>;

struct SamplingParams
{
    float temperature = 1.0f; // model card default; 0 = greedy
    float topP = 1.0f;
    int topK = 0;             // 0 = off
    float minP = 0.0f;        // 0 = off
    std::uint64_t seed = 0;
};

using RequestId = std::uint64_t;

struct GenerationRequest
{
    RequestId id = 0;
    std::vector<chat::Message> messages;
    chat::ThinkingMode thinkingMode = chat::ThinkingMode::Chat;
    chat::ReasoningEffort reasoningEffort = chat::ReasoningEffort::None;
    SamplingParams sampling;
    int maxTokens = 1024;
    std::string model; // remote backends: model id to request; local: ignored
};

enum class FinishReason { Stop, Length, Cancelled, Error, ToolCalls };

struct GenerationStats
{
    int promptTokens = 0;
    int completionTokens = 0;
    int cachedPromptTokens = 0;
    double timeToFirstTokenMs = 0.0;
    double promptTokensPerSecond = 0.0;
    double decodeTokensPerSecond = 0.0;
    // The model that produced the answer as the backend knows it: the id a remote server reports
    // in its chunks (which may differ from the one asked for: "auto", aliases); empty when the
    // backend has only the loaded model (the caller knows that one).
    std::string model;
};

/** Receives a request's output. Called on the backend's thread from inside step(). */
class TokenSink
{
public:
    virtual ~TokenSink() = default;
    // Incremental text, already split into reasoning and answer (either may be empty).
    virtual void onText(RequestId id, const std::string &reasoningDelta, const std::string &contentDelta) = 0;
    virtual void onToolCalls(RequestId id, const std::vector<chat::ToolCall> &calls) {}
    virtual void onFinished(RequestId id, FinishReason reason, const GenerationStats &stats) = 0;
    // The request failed; text already delivered stays valid (a dropped connection keeps the
    // partial answer).
    virtual void onError(RequestId id, const Error &error) = 0;
};

class Backend
{
public:
    virtual ~Backend() = default;

    virtual BackendInfo info() const = 0;
    virtual Result<void> load(const ModelSpec &spec, const LoadProgressFn &progress) = 0;
    virtual void unload() = 0;
    // Queues a request; output goes to sink (which must outlive the request).
    virtual Result<void> submit(GenerationRequest request, TokenSink &sink) = 0;
    virtual void cancel(RequestId id) = 0;
    // Runs one unit of work (a prefill chunk or one decode step for all running requests).
    // Returns true while work remains.
    virtual bool step() = 0;
};

} // namespace fathom::engine
