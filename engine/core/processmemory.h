// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  The process's resident set size: the bytes of its address space held in physical memory,
  including the pages of memory-mapped files that were touched (weights read through a mapping
  count once they are read, not when they are mapped). Used to check that loading a model does
  not copy its tensors (issue 6: resident memory <= 1.1x the weight bytes used) and for
  diagnostics. Linux: /proc/self/statm; Windows: GetProcessMemoryInfo (WorkingSetSize); macOS:
  task_info. Errors name the source that could not be read. Thread-safe.
*/

#include "engine/core/error.h"

#include <cstdint>

namespace fathom::engine {

Result<uint64_t> residentSetBytes();

// Gives freed heap memory back to the system where the C library allows it (glibc malloc_trim),
// so a later residentSetBytes() measures live memory; a no-op elsewhere.
void releaseFreeHeap();

} // namespace fathom::engine
