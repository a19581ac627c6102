// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// The only platform-specific code for process memory figures.
#include "processmemory.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
// After windows.h: psapi.h needs its types. PSAPI_VERSION 2 (the default since Windows 7) maps
// GetProcessMemoryInfo to K32GetProcessMemoryInfo in kernel32, so no psapi.lib is needed.
#include <psapi.h>
#elif defined(__APPLE__)
#include <mach/mach.h>
#else
#include <cstdio>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#endif

namespace fathom::engine {

Result<uint64_t> residentSetBytes()
{
#ifdef _WIN32
    PROCESS_MEMORY_COUNTERS pmc{};
    pmc.cb = sizeof(pmc);
    if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof(pmc)))
        return fail(Error::Kind::Io,
                    "GetProcessMemoryInfo failed (error " + std::to_string(GetLastError()) + ")");
    return static_cast<uint64_t>(pmc.WorkingSetSize);
#elif defined(__APPLE__)
    mach_task_basic_info info{};
    mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
    if (task_info(mach_task_self(),
                  MACH_TASK_BASIC_INFO,
                  reinterpret_cast<task_info_t>(&info),
                  &count)
        != KERN_SUCCESS)
        return fail(Error::Kind::Io, "task_info(MACH_TASK_BASIC_INFO) failed");
    return static_cast<uint64_t>(info.resident_size);
#else
    // statm: size resident shared text lib data dt, in pages.
    std::FILE *f = std::fopen("/proc/self/statm", "r");
    if (!f)
        return fail(Error::Kind::Io, "cannot open /proc/self/statm");
    unsigned long long size = 0, resident = 0;
    const int n = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    if (n != 2)
        return fail(Error::Kind::Format, "/proc/self/statm: unexpected contents");
    const long page = sysconf(_SC_PAGESIZE);
    return static_cast<uint64_t>(resident) * static_cast<uint64_t>(page > 0 ? page : 4096);
#endif
}

void releaseFreeHeap()
{
#if !defined(_WIN32) && !defined(__APPLE__) && defined(__GLIBC__)
    malloc_trim(0);
#endif
}

} // namespace fathom::engine
