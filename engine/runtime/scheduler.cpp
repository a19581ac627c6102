// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "engine/runtime/scheduler.h"

#include <algorithm>

namespace fathom::engine {

struct Scheduler::Active
{
    TokenRequest request;
    GenerationListener *listener = nullptr;
    SequenceState state;
    Sampler sampler;
    size_t prefilled = 0; // prompt tokens already fed
    size_t cached = 0;    // of them, taken over from a kept state
    int generated = 0;
    int32_t pending = -1; // last sampled token, fed by the next decode step
    bool cancelled = false;
    bool done = false;
    Clock::time_point submitted, prefillStart, firstToken, lastToken;
    bool prefillStarted = false;

    bool decoding() const { return prefilled == request.prompt.size(); }
};

namespace {

double seconds(std::chrono::steady_clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}

} // namespace

Scheduler::Scheduler(V4Forward &forward, const ModelConfig &config, SchedulerOptions options)
    : m_forward(forward)
    , m_config(config)
    , m_options(options)
{
    m_options.maxConcurrent = std::max(1, m_options.maxConcurrent);
    m_options.stepTokens = std::max(1, m_options.stepTokens);
    if (m_options.contextLength <= 0 || m_options.contextLength > config.maxPositionEmbeddings)
        m_options.contextLength = config.maxPositionEmbeddings;
}

Scheduler::~Scheduler() = default;

Result<void> Scheduler::submit(TokenRequest request, GenerationListener &listener)
{
    const std::string what = "request " + std::to_string(request.id);
    if (request.prompt.empty())
        return fail(Error::Kind::InvalidArgument, what + ": the prompt is empty");
    for (int32_t t : request.prompt)
        if (t < 0 || t >= m_config.vocabSize)
            return fail(Error::Kind::InvalidArgument,
                        what + ": token id " + std::to_string(t) + " is outside the vocabulary ("
                            + std::to_string(m_config.vocabSize) + " ids)");
    if (m_options.contextLength > 0
        && static_cast<int64_t>(request.prompt.size()) >= m_options.contextLength)
        return fail(Error::Kind::InvalidArgument,
                    what + ": the prompt has " + std::to_string(request.prompt.size())
                        + " tokens, the context holds " + std::to_string(m_options.contextLength)
                        + " (room for at least one generated token is needed)");
    for (const auto &a : m_queue)
        if (a->request.id == request.id)
            return fail(Error::Kind::InvalidArgument, what + " is already queued");
    for (const auto &a : m_running)
        if (a->request.id == request.id)
            return fail(Error::Kind::InvalidArgument, what + " is already running");
    if (request.maxTokens < 1)
        request.maxTokens = 1;
    if (request.stopTokens.empty())
        request.stopTokens.push_back(static_cast<int32_t>(m_config.eosTokenId));

    auto a = std::make_unique<Active>();
    a->sampler = Sampler(request.sampling);
    a->request = std::move(request);
    a->listener = &listener;
    a->submitted = Clock::now();
    m_queue.push_back(std::move(a));
    return {};
}

void Scheduler::cancel(RequestId id)
{
    for (auto &a : m_queue)
        if (a->request.id == id)
            a->cancelled = true;
    for (auto &a : m_running)
        if (a->request.id == id)
            a->cancelled = true;
}

bool Scheduler::hasWork() const
{
    return !m_queue.empty() || !m_running.empty();
}

int Scheduler::runningCount() const
{
    return static_cast<int>(m_running.size());
}

int Scheduler::queuedCount() const
{
    return static_cast<int>(m_queue.size());
}

void Scheduler::finish(Active &a, FinishReason reason)
{
    if (a.done)
        return;
    a.done = true;
    GenerationStats s;
    s.promptTokens = static_cast<int>(a.request.prompt.size());
    s.completionTokens = a.generated;
    s.cachedPromptTokens = static_cast<int>(a.cached);
    if (a.generated > 0) {
        s.timeToFirstTokenMs = seconds(a.firstToken - a.submitted) * 1000.0;
        const double prefill = seconds(a.firstToken - a.prefillStart);
        if (prefill > 0)
            s.promptTokensPerSecond = s.promptTokens / prefill;
        const double decode = seconds(a.lastToken - a.firstToken);
        if (a.generated > 1 && decode > 0)
            s.decodeTokensPerSecond = (a.generated - 1) / decode;
    }
    a.listener->onFinished(a.request.id, reason, s);
    // Keep the state for prefix reuse (an errored forward leaves it undefined: not kept).
    if (m_options.keptStates > 0 && a.state.length() > 0) {
        m_kept.push_back(std::move(a.state));
        // Oldest first out: by count, then by bytes (a long document's state can be gigabytes;
        // one larger than the whole allowance is not kept at all).
        auto keptBytes = [this] {
            int64_t bytes = 0;
            for (const SequenceState &s : m_kept)
                bytes += s.memoryBytes();
            return bytes;
        };
        while (static_cast<int>(m_kept.size()) > m_options.keptStates
               || (m_options.keptStateBytes > 0 && !m_kept.empty()
                   && keptBytes() > m_options.keptStateBytes))
            m_kept.pop_front();
    }
}

bool Scheduler::reuseKept(Active &a)
{
    const std::vector<int32_t> &prompt = a.request.prompt;
    size_t best = m_kept.size();
    int64_t bestReach = 0;
    for (size_t i = 0; i < m_kept.size(); ++i) {
        const std::vector<int32_t> &ids = m_kept[i].tokens();
        const size_t n = std::min(ids.size(), prompt.size() - 1);
        const size_t common = static_cast<size_t>(
            std::mismatch(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), prompt.begin())
                .first
            - ids.begin());
        const int64_t reach = m_kept[i].reachableWithoutCompute(static_cast<int64_t>(common));
        if (reach > bestReach) {
            bestReach = reach;
            best = i;
        }
    }
    if (best == m_kept.size())
        return false;
    SequenceState state = std::move(m_kept[best]);
    m_kept.erase(m_kept.begin() + static_cast<std::ptrdiff_t>(best));
    if (!state.truncate(bestReach)) // reachable without compute: cannot fail
        return false;
    a.state = std::move(state);
    a.prefilled = a.cached = static_cast<size_t>(bestReach);
    return true;
}

void Scheduler::reportCancelled()
{
    for (auto it = m_queue.begin(); it != m_queue.end();) {
        if ((*it)->cancelled) {
            std::unique_ptr<Active> a = std::move(*it);
            it = m_queue.erase(it);
            finish(*a, FinishReason::Cancelled);
        } else {
            ++it;
        }
    }
    for (auto &a : m_running)
        if (a->cancelled)
            finish(*a, FinishReason::Cancelled);
    std::erase_if(m_running, [](const std::unique_ptr<Active> &a) { return a->done; });
}

void Scheduler::admit()
{
    while (!m_queue.empty() && static_cast<int>(m_running.size()) < m_options.maxConcurrent) {
        std::unique_ptr<Active> a = std::move(m_queue.front());
        m_queue.pop_front();
        // The state is allocated only when the request runs: queued requests cost no memory.
        if (!reuseKept(*a))
            a->state = SequenceState(m_config,
                                     m_options.historyTokens,
                                     m_options.checkpointInterval);
        // Where a regenerate of this answer will rewind to.
        a->state.requestCheckpoint(static_cast<int64_t>(a->request.prompt.size()) - 1);
        // Device states size their compressed caches once for the prompt and the longest
        // answer (applied when the first forward pass places the state): no doubling copies
        // of a long context's caches. A failure here is only a lost optimisation: the caches
        // then grow as they fill, and an allocation that cannot be made fails there.
        const int64_t context = std::min<int64_t>(static_cast<int64_t>(a->request.prompt.size())
                                                      + a->request.maxTokens,
                                                  m_options.contextLength);
        (void) a->state.reserve(context);
        m_running.push_back(std::move(a));
    }
}

bool Scheduler::step()
{
    reportCancelled();
    admit();
    if (m_running.empty())
        return hasWork();

    // Decode tokens first (one per decoding request), then prompt chunks in arrival order.
    std::vector<ForwardItem> items;
    std::vector<Active *> owners;
    int decodes = 0;
    for (auto &a : m_running) {
        if (a->decoding()) {
            ForwardItem it;
            it.state = &a->state;
            it.tokens = &a->pending;
            it.count = 1;
            it.sequenceId = static_cast<int>(a->request.id);
            items.push_back(it);
            owners.push_back(a.get());
            ++decodes;
        }
    }
    // Prefill keeps at least a quarter of the step even when many requests decode, so a new
    // request's first token is never starved.
    int budget = std::max({m_options.stepTokens - decodes, m_options.stepTokens / 4, 1});
    const Clock::time_point start = Clock::now();
    for (auto &a : m_running) {
        if (a->decoding() || budget <= 0)
            continue;
        const size_t left = a->request.prompt.size() - a->prefilled;
        const int chunk = static_cast<int>(std::min<size_t>(left, static_cast<size_t>(budget)));
        ForwardItem it;
        it.state = &a->state;
        it.tokens = a->request.prompt.data() + a->prefilled;
        it.count = chunk;
        it.sequenceId = static_cast<int>(a->request.id);
        items.push_back(it);
        owners.push_back(a.get());
        budget -= chunk;
        if (!a->prefillStarted) {
            a->prefillStarted = true;
            a->prefillStart = start;
        }
    }

    const int64_t vocab = m_config.vocabSize;
    m_logits.resize(static_cast<size_t>(items.size() * vocab));
    Result<void> r = m_forward.forward(items, m_logits.data());
    ++m_counters.forwardCalls;
    m_counters.maxBatchItems = std::max(m_counters.maxBatchItems, static_cast<int>(items.size()));
    if (!r) {
        // The states of every item are now undefined: fail all of them, keep the queue.
        for (Active *a : owners) {
            a->done = true;
            a->listener->onError(a->request.id, r.error());
        }
        std::erase_if(m_running, [](const std::unique_ptr<Active> &a) { return a->done; });
        return hasWork();
    }

    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < items.size(); ++i) {
        Active &a = *owners[i];
        if (a.decoding()) {
            ++m_counters.decodeTokens;
        } else {
            a.prefilled += static_cast<size_t>(items[i].count);
            m_counters.prefillTokens += static_cast<uint64_t>(items[i].count);
            if (!a.decoding())
                continue; // more prompt to feed: these logits are not needed
        }
        const int32_t token = a.sampler.sample(m_logits.data() + i * vocab, vocab);
        ++a.generated;
        if (a.generated == 1)
            a.firstToken = now;
        a.lastToken = now;
        const auto &stops = a.request.stopTokens;
        const bool isStop = std::find(stops.begin(), stops.end(), token) != stops.end();
        a.pending = token;
        a.listener->onToken(a.request.id, token, isStop);
        if (a.done)
            continue;
        if (isStop)
            finish(a, FinishReason::Stop);
        else if (a.generated >= a.request.maxTokens || a.state.length() >= m_options.contextLength)
            finish(a, FinishReason::Length);
    }
    std::erase_if(m_running, [](const std::unique_ptr<Active> &a) { return a->done; });
    return hasWork();
}

} // namespace fathom::engine
