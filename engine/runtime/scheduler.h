// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Scheduler: token-level generation for several requests over one V4Forward (continuous
  batching). Backends (CpuBackend, later the CUDA ones) put text, chat encoding and sinks on top.

  Each request owns its SequenceState and Sampler. step() makes ONE forward call that carries a
  decode token for every running request that has finished its prompt, plus prompt tokens of the
  requests still prefilling (in arrival order) up to `stepTokens` tokens in all (chunked prefill,
  so a long prompt never stalls the others for long). The forward pass treats every item
  independently, so a request's tokens do not depend on what shares its batch (greedy gives the
  same tokens alone or batched; seeded sampling uses the request's own RNG).

  Up to `maxConcurrent` requests run at once; later ones wait in a FIFO queue and start as slots
  free up. A request stops on one of its stop tokens (EOS from the config by default; the stop
  token is reported to the listener but not counted as completion text by backends), after
  `maxTokens` generated tokens, at the context limit, or when cancelled. cancel() only marks the
  request: the next step() reports it (listeners are only ever called from inside step()), so a
  forward call is never interrupted.

  Statistics per request: prompt tokens, time to first token (from submit), prompt tokens/s
  (prompt tokens over the time from the first prefill step to the first token) and decode
  tokens/s (tokens after the first over the time since the first token).

  Prefix reuse (regenerate / edit branching): with `keptStates` > 0 the states of the last
  finished requests are kept (ids included). A new request whose prompt starts with the ids of a
  kept state takes that state over and rewinds it (SequenceState::truncate) to the longest
  common prefix, at most prompt length - 1 (the last prompt token's logits are needed), or to the
  nearest earlier point it can reach without compute (a checkpoint or its history), and
  prefills only the rest: exact, since truncate() gives the state of a fresh prefill. Every
  request's state marks a checkpoint at its prompt length - 1, so regenerating an answer costs
  one prompt token; an edited message rewinds to the checkpoint below the edit (every
  `checkpointInterval` tokens). GenerationStats::cachedPromptTokens reports the reused tokens.

  Thread: used by one thread (the engine thread); listeners are called on it from step().
*/

#include "engine/api/backend.h"
#include "engine/core/error.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/sequencestate.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace fathom::engine {

/** Receives a request's tokens. Called from inside Scheduler::step(). */
class GenerationListener
{
public:
    virtual ~GenerationListener() = default;
    // A sampled token (stop tokens included, flagged). Called once per generated token.
    virtual void onToken(RequestId id, int32_t token, bool isStop) = 0;
    virtual void onFinished(RequestId id, FinishReason reason, const GenerationStats &stats) = 0;
    virtual void onError(RequestId id, const Error &error) = 0;
};

struct TokenRequest
{
    RequestId id = 0;
    std::vector<int32_t> prompt; // must not be empty
    SamplingParams sampling;
    int maxTokens = 1024;            // generated tokens, stop token included
    std::vector<int32_t> stopTokens; // empty: the config's eos_token_id
};

struct SchedulerOptions
{
    int maxConcurrent = 8;     // running requests (the rest queue)
    int stepTokens = 256;      // tokens per forward call (decode tokens + prefill chunk)
    int64_t contextLength = 0; // 0 = the config's max_position_embeddings
    int64_t historyTokens = 0; // SequenceState rows kept for truncate() (generation needs none)
    int64_t checkpointInterval = 4096; // SequenceState checkpoints (see sequencestate.h)
    int keptStates = 0;                // finished requests' states kept for prefix reuse (0: none)
    int64_t keptStateBytes = 0;        // and at most this many bytes of them (0: no byte limit)
};

struct SchedulerCounters
{
    uint64_t forwardCalls = 0;
    uint64_t prefillTokens = 0;
    uint64_t decodeTokens = 0;
    int maxBatchItems = 0; // largest number of items in one forward call
};

class Scheduler
{
public:
    Scheduler(V4Forward &forward, const ModelConfig &config, SchedulerOptions options = {});
    ~Scheduler();

    // Queues a request; the listener must outlive it. Fails on an empty prompt, a token outside
    // the vocabulary, a prompt that does not fit the context, or a duplicate id.
    Result<void> submit(TokenRequest request, GenerationListener &listener);
    // Marks a queued or running request cancelled; reported by the next step(). Unknown ids are
    // ignored (the request may have finished already).
    void cancel(RequestId id);
    // One forward call (or only the reporting of cancellations). True while work remains.
    bool step();

    bool hasWork() const;
    int runningCount() const;
    int queuedCount() const;
    const SchedulerOptions &options() const { return m_options; }
    const SchedulerCounters &counters() const { return m_counters; }

private:
    using Clock = std::chrono::steady_clock;
    struct Active;

    void admit();
    // Hands a kept state whose ids share a prefix with `prompt` to `a` (rewound); false if none.
    bool reuseKept(Active &a);
    void finish(Active &a, FinishReason reason);
    void reportCancelled();

    V4Forward &m_forward;
    const ModelConfig &m_config;
    SchedulerOptions m_options;
    std::deque<std::unique_ptr<Active>> m_queue;
    std::vector<std::unique_ptr<Active>> m_running;
    std::deque<SequenceState> m_kept; // oldest first
    std::vector<float> m_logits;
    SchedulerCounters m_counters;
};

} // namespace fathom::engine
