// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "threadpool.h"

#include "kernels/cpu_features.h"

#include <algorithm>
#include <chrono>

namespace fathom::engine {

ThreadPool::ThreadPool(int threads)
{
    if (threads <= 0)
        threads = kernels::cpu_physical_threads();
    for (int i = 1; i < threads; ++i)
        m_workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        m_generation.fetch_add(1, std::memory_order_release);
    }
    m_wake.notify_all();
    for (std::thread &t : m_workers)
        t.join();
}

void ThreadPool::runChunks()
{
    for (;;) {
        const int64_t c = m_nextChunk.fetch_add(1, std::memory_order_relaxed);
        if (c >= m_chunks)
            return;
        const int64_t begin = c * m_chunk;
        const int64_t end = std::min(m_n, begin + m_chunk);
        m_fn(m_ctx, begin, end);
    }
}

void ThreadPool::workerLoop(int)
{
    uint64_t seen = 0;
    for (;;) {
        // Spin a little: the next job usually follows within microseconds during decode.
        uint64_t gen = m_generation.load(std::memory_order_acquire);
        for (int spin = 0; gen == seen && spin < 20000; ++spin) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
            gen = m_generation.load(std::memory_order_acquire);
        }
        if (gen == seen) {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [&] { return m_generation.load(std::memory_order_acquire) != seen; });
            gen = m_generation.load(std::memory_order_acquire);
        }
        seen = gen;
        {
            std::lock_guard lock(m_mutex);
            if (m_stop)
                return;
        }
        runChunks();
        m_pending.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, kernels::parallel_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    grain = std::max<int64_t>(1, grain);
    const int threads = thread_count();
    bool expected = false;
    if (threads <= 1 || n <= grain || !m_busy.compare_exchange_strong(expected, true)) {
        fn(ctx, 0, n); // no workers, too small, or a nested call
        return;
    }
    // A few chunks per thread balance uneven ranges; never below the grain.
    const int64_t target = static_cast<int64_t>(threads) * 4;
    m_chunk = std::max(grain, (n + target - 1) / target);
    m_chunks = (n + m_chunk - 1) / m_chunk;
    m_n = n;
    m_fn = fn;
    m_ctx = ctx;
    m_nextChunk.store(0, std::memory_order_relaxed);
    m_pending.store(static_cast<int>(m_workers.size()), std::memory_order_relaxed);
    {
        std::lock_guard lock(m_mutex);
        m_generation.fetch_add(1, std::memory_order_release);
    }
    m_wake.notify_all();
    runChunks();
    while (m_pending.load(std::memory_order_acquire) != 0) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    m_busy.store(false, std::memory_order_release);
}

} // namespace fathom::engine
