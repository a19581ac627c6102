// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "enginetypes.h"

#include <memory>

namespace fathom {

/*
  Builds the Backend for a choice. Thread: engine (a backend lives and dies on the thread that
  uses it: CUDA contexts are bound to it). Kinds this build lacks (no CUDA, no CPU engine yet)
  come back as Unavailable errors with the reason in words.
*/
Result<std::unique_ptr<engine::Backend>> createBackend(const BackendChoice &choice);

// What each kind would be in this build, without loading anything (the Models screen).
engine::BackendInfo describeBackend(BackendChoice::Kind kind);

} // namespace fathom
