// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Which model answers a conversation turn when the user picked "auto" (the seed's production
  pattern): V4-Flash by default; V4-Pro for thinking mode with reasoning effort max, for attached
  documents past a size the user sets, or when the user pressed "ask again with Pro". A pure
  function, so the UI can show the rule before sending and each answer can record it.
*/

#include "engine/chat/message.h"

#include <cstdint>
#include <string>

namespace fathom::engine::remote {

inline constexpr const char *kFlashModelId = "deepseek-v4-flash";
inline constexpr const char *kProModelId = "deepseek-v4-pro";
inline constexpr const char *kAutoModelId = "auto";

struct RoutingInput
{
    std::string choice = kAutoModelId; // "auto" or a model id the user picked
    chat::ThinkingMode thinkingMode = chat::ThinkingMode::Chat;
    chat::ReasoningEffort reasoningEffort = chat::ReasoningEffort::None;
    // Size of the documents attached to the conversation, in tokens (estimated by the caller
    // where no tokenizer is at hand), and the user's threshold; 0 = no threshold.
    std::uint64_t documentTokens = 0;
    std::uint64_t documentThresholdTokens = 0;
    bool askAgainWithPro = false;
    std::string flashModelId = kFlashModelId;
    std::string proModelId = kProModelId;
};

// NOTE: values may be persisted with each answer; never reuse them.
enum class RoutingRule {
    UserChoice = 0,
    DefaultFlash = 1,
    ThinkingMax = 2,
    LargeDocuments = 3,
    AskAgainWithPro = 4,
};

struct RoutingDecision
{
    std::string modelId;
    RoutingRule rule = RoutingRule::DefaultFlash;
    std::string ruleText; // English, for logs and the answer record; the UI translates `rule`
};

RoutingDecision routeModel(const RoutingInput &input);

} // namespace fathom::engine::remote
