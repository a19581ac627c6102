// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// Compile-time check (GCC/Clang, -Wpadded -Werror=padded; kernels/CMakeLists.txt): the params
// structs of the ops have no implicit padding. A struct passed by value into a kernel launch
// copies its padding bytes too: there they carried the caller's stack into the launch (twice,
// RmsNormParams and CompressorPoolParams), which a CUDA graph keeps as node parameters, the
// emulation flagged as a host pointer, and the replay verify mode saw as a changed node. Every
// params struct therefore spells its padding as zero-initialised members; a new field that
// leaves a hole fails this file's build.

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpadded"
#endif
#include "kernels/status.h" // a return value, never a launch parameter
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "kernels/compressor.h"
#include "kernels/cuda_ops.h"
#include "kernels/fp4_fold_e4m3.h"
#include "kernels/hadamard.h"
#include "kernels/indexer.h"
#include "kernels/linear.h"
#include "kernels/mhc.h"
#include "kernels/moe.h"
#include "kernels/quant.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/row_chain.h"
#include "kernels/sparse_attn.h"

// Launch-argument structs private to kernels/cuda (plain C++ headers).
#include "cuda/indexer_rows.h"
