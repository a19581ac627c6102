// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/cpu_features.h"

#include <cstdlib>
#include <thread>

namespace fathom::kernels {

bool cpu_has_avx2_fma()
{
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static const bool has = [] {
        if (const char *off = std::getenv("FATHOM_DISABLE_AVX2"); off && *off && *off != '0')
            return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
               && __builtin_cpu_supports("f16c");
    }();
    return has;
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    // MSVC x64 builds compile the AVX2 units with /arch:AVX2; detect at run time via cpuid.
    static const bool has = [] {
        int info[4] = {};
        __cpuid(info, 0);
        if (info[0] < 7)
            return false;
        __cpuidex(info, 7, 0);
        const bool avx2 = (info[1] & (1 << 5)) != 0;
        __cpuid(info, 1);
        const bool fma = (info[2] & (1 << 12)) != 0;
        const bool f16c = (info[2] & (1 << 29)) != 0;
        return avx2 && fma && f16c;
    }();
    return has;
#else
    return false;
#endif
}

bool cpu_has_avx512()
{
#if defined(FATHOM_KERNELS_HAVE_AVX512) && (defined(__GNUC__) || defined(__clang__))
    static const bool has = [] {
        if (const char *off = std::getenv("FATHOM_DISABLE_AVX512"); off && *off && *off != '0')
            return false;
        __builtin_cpu_init();
        return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f")
               && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    }();
    return has;
#else
    return false;
#endif
}

bool cpu_has_avx512_vnni()
{
#if defined(FATHOM_KERNELS_HAVE_AVX512) && (defined(__GNUC__) || defined(__clang__))
    static const bool has = [] {
        if (!cpu_has_avx512())
            return false;
        if (const char *off = std::getenv("FATHOM_DISABLE_VNNI"); off && *off && *off != '0')
            return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512vnni") != 0;
    }();
    return has;
#else
    return false;
#endif
}

bool cpu_has_avx512_bf16()
{
#if defined(FATHOM_KERNELS_HAVE_AVX512BF16) && (defined(__GNUC__) || defined(__clang__))
    static const bool has = [] {
        if (!cpu_has_avx512())
            return false;
        if (const char *off = std::getenv("FATHOM_DISABLE_AVX512BF16"); off && *off && *off != '0')
            return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vbmi");
    }();
    return has;
#else
    return false;
#endif
}

int cpu_physical_threads()
{
    if (const char *env = std::getenv("FATHOM_THREADS"); env && *env) {
        const int n = std::atoi(env);
        if (n > 0)
            return n;
    }
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

} // namespace fathom::kernels
