// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "enginetypes.h"

namespace fathom {

EngineStats toEngineStats(const engine::GenerationStats &stats)
{
    EngineStats s;
    s.promptTokens = stats.promptTokens;
    s.completionTokens = stats.completionTokens;
    s.timeToFirstTokenMs = stats.timeToFirstTokenMs;
    s.tokensPerSecond = stats.decodeTokensPerSecond;
    s.modelId = QString::fromStdString(stats.model);
    return s;
}

EngineFinish toEngineFinish(engine::FinishReason reason)
{
    switch (reason) {
    case engine::FinishReason::Stop:
        return EngineFinish::Stop;
    case engine::FinishReason::Length:
        return EngineFinish::Length;
    case engine::FinishReason::Cancelled:
        return EngineFinish::Cancelled;
    case engine::FinishReason::Error:
        return EngineFinish::Error;
    case engine::FinishReason::ToolCalls:
        return EngineFinish::ToolCalls;
    }
    return EngineFinish::Stop;
}

} // namespace fathom
