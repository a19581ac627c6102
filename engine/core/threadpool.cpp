// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "threadpool.h"

#include "kernels/cpu_features.h"

#include <algorithm>

namespace fathom::engine {

namespace {

inline void cpuRelax()
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

} // namespace

ThreadPool::ThreadPool(int threads)
{
    if (threads <= 0)
        threads = kernels::cpu_physical_threads();
    for (int i = 1; i < threads; ++i)
        m_workers.emplace_back([this] { workerLoop(); });
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

void ThreadPool::runChunks(Job &job)
{
    for (;;) {
        const int64_t c = job.next.fetch_add(1, std::memory_order_relaxed);
        if (c >= job.chunks)
            return;
        const int64_t begin = c * job.chunk;
        job.fn(job.ctx, begin, std::min(job.n, begin + job.chunk));
        job.done.fetch_add(1, std::memory_order_release);
    }
}

void ThreadPool::workerLoop()
{
    uint64_t seen = 0;
    for (;;) {
        // Spin a little (yielding, the machine may be shared): during decode the next job
        // usually follows within microseconds.
        uint64_t gen = m_generation.load(std::memory_order_acquire);
        for (int spin = 0; gen == seen && spin < 4000; ++spin) {
            if (spin % 64 == 63)
                std::this_thread::yield();
            else
                cpuRelax();
            gen = m_generation.load(std::memory_order_acquire);
        }
        std::shared_ptr<Job> job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [&] { return m_generation.load(std::memory_order_acquire) != seen; });
            seen = m_generation.load(std::memory_order_acquire);
            if (m_stop)
                return;
            job = m_job;
        }
        if (job)
            runChunks(*job);
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
    auto job = std::make_shared<Job>();
    const int64_t target = static_cast<int64_t>(threads) * 4;
    job->fn = fn;
    job->ctx = ctx;
    job->n = n;
    job->chunk = std::max(grain, (n + target - 1) / target);
    job->chunks = (n + job->chunk - 1) / job->chunk;
    {
        std::lock_guard lock(m_mutex);
        m_job = job;
        m_generation.fetch_add(1, std::memory_order_release);
    }
    m_wake.notify_all();
    runChunks(*job);
    for (int spin = 0; job->done.load(std::memory_order_acquire) != job->chunks; ++spin) {
        if (spin % 64 == 63)
            std::this_thread::yield();
        else
            cpuRelax();
    }
    {
        std::lock_guard lock(m_mutex);
        if (m_job == job)
            m_job.reset();
    }
    m_busy.store(false, std::memory_order_release);
}

} // namespace fathom::engine
