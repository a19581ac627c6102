// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  ThreadPool: a fixed set of worker threads for the CPU kernels (kernels/parallel.h). The calling
  thread takes part in every parallel_for, so ThreadPool(1) has no workers at all. Workers spin
  briefly after each job before sleeping, because a decode step issues hundreds of short
  parallel_for calls back to back and waking sleeping threads would dominate.

  Thread: one thread drives a pool at a time (the engine thread); parallel_for is not reentrant
  (a callback must not call parallel_for on the same pool; it runs serially if it does).
*/

#include "kernels/parallel.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace fathom::engine {

class ThreadPool final : public kernels::parallel_runner
{
public:
    // threads <= 0: kernels::cpu_physical_threads() (FATHOM_THREADS overrides).
    explicit ThreadPool(int threads = 0);
    ~ThreadPool() override;
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    int thread_count() const override { return static_cast<int>(m_workers.size()) + 1; }
    void parallel_for(int64_t n, int64_t grain, kernels::parallel_range_fn fn, void *ctx) override;

private:
    // One parallel_for call. Workers that wake late still hold their job, find no chunk left and
    // drop it, so the caller only ever waits for chunks that are actually running.
    struct Job
    {
        kernels::parallel_range_fn fn = nullptr;
        void *ctx = nullptr;
        int64_t n = 0, chunk = 0, chunks = 0;
        std::atomic<int64_t> next{0};
        std::atomic<int64_t> done{0};
    };

    void workerLoop();
    static void runChunks(Job &job);

    std::vector<std::thread> m_workers;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::atomic<uint64_t> m_generation{0};
    std::atomic<bool> m_busy{false};
    std::shared_ptr<Job> m_job; // guarded by m_mutex
    bool m_stop = false;        // guarded by m_mutex
};

} // namespace fathom::engine
