// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  JSON text exactly as Python's json.dumps(value, ensure_ascii=False) writes it (the official V4
  encoder uses it for tool schemas, non-string tool arguments and response formats): ", " and
  ": " separators, keys in their original order, non-ASCII characters unescaped, floats as
  Python's repr (shortest round-trip digits, exponent form below 1e-4 and from 1e16 on).
*/

#include <nlohmann/json.hpp>

#include <string>

namespace fathom::engine::chat {

std::string pythonJsonDumps(const nlohmann::ordered_json &value);
std::string pythonFloatRepr(double value);

} // namespace fathom::engine::chat
