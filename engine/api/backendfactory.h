// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Factories for the local backends, so composition roots (EngineHost, fathom-cli) do not need the
  backends' headers. Each is defined next to its backend (createCpuBackend in
  engine/cpu/cpubackend.cpp).
*/

#include "engine/api/backend.h"

#include <memory>

namespace fathom::engine {

// threads <= 0: the physical core count (FATHOM_THREADS overrides).
std::unique_ptr<Backend> createCpuBackend(int threads = 0);

} // namespace fathom::engine
