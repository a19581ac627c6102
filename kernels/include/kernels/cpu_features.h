// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Run-time CPU feature detection for kernel dispatch. AVX2 kernels live in their own translation
  units compiled with -mavx2 -mfma -mf16c; callers check cpu_has_avx2_fma() before using them.
*/

namespace fathom::kernels {

bool cpu_has_avx2_fma();
// AVX-512 F + BW + VL (implies the AVX2 set); FATHOM_DISABLE_AVX512=1 turns it off. GCC/Clang
// builds only (the AVX-512 units are not built with MSVC).
bool cpu_has_avx512();
// AVX-512 VNNI (vpdpbusd) on top of cpu_has_avx512(); FATHOM_DISABLE_VNNI=1 (or
// FATHOM_DISABLE_AVX512=1) turns it off.
bool cpu_has_avx512_vnni();
// AVX-512 BF16 (vdpbf16ps) and VBMI (vpermi2b) on top of cpu_has_avx512(), for the fp32-mode
// linears (linear_bf16dot*.cpp); FATHOM_DISABLE_AVX512BF16=1 (or FATHOM_DISABLE_AVX512=1) turns
// it off. GCC/Clang builds only.
bool cpu_has_avx512_bf16();
int cpu_physical_threads(); // threads to use for kernels by default (>= 1)

} // namespace fathom::kernels
