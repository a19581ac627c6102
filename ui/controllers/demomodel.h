// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

#include <QString>

#include <functional>
#include <string>

namespace fathom::ui {

/*
  The demo model: a tiny model with the V4 architecture and random weights, so a new user can try
  every screen without the real weights. Its answers are noise, and the UI says so wherever it is
  named. The real tokenizer cannot be shipped, so the demo gets its own small byte-level BPE
  tokenizer (generated here): ids 0/1/2 are BOS/EOS/pad as in V4, then the 256 byte tokens, merges
  learnt from a short built-in text, and V4's chat special tokens (the same strings as V4, at
  small ids), 512 ids in all. The model's vocab_size follows the tokenizer.
*/
namespace demo {

inline constexpr int kVocabSize = 512;

// <data>/models/demo-v4-tiny
QString defaultFolder();
// True when `folder` holds a demo model written by writeDemoModel().
bool isDemoModel(const QString &folder);
// The tokenizer.json text described above.
std::string tokenizerJson();
// Writes the demo model into `folder` (created), unless one is already there. Thread: any
// (blocking; run it on a pool thread). `progress` gets 0..1.
Result<void> writeDemoModel(const QString &folder, const std::function<void(double)> &progress = {});

} // namespace demo
} // namespace fathom::ui
