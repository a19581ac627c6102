// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "modelrouting.h"

namespace fathom::engine::remote {

RoutingDecision routeModel(const RoutingInput &input)
{
    RoutingDecision d;
    if (!input.choice.empty() && input.choice != kAutoModelId) {
        d.modelId = input.choice;
        d.rule = RoutingRule::UserChoice;
        d.ruleText = "chosen by the user: " + input.choice;
        return d;
    }
    // Most specific reason first: an explicit request beats the automatic ones.
    if (input.askAgainWithPro) {
        d.modelId = input.proModelId;
        d.rule = RoutingRule::AskAgainWithPro;
        d.ruleText = "auto: Pro, because \"ask again with Pro\" was pressed";
        return d;
    }
    if (input.thinkingMode == chat::ThinkingMode::Thinking
        && input.reasoningEffort == chat::ReasoningEffort::Max) {
        d.modelId = input.proModelId;
        d.rule = RoutingRule::ThinkingMax;
        d.ruleText = "auto: Pro, because thinking mode uses reasoning effort max";
        return d;
    }
    if (input.documentThresholdTokens > 0 && input.documentTokens > input.documentThresholdTokens) {
        d.modelId = input.proModelId;
        d.rule = RoutingRule::LargeDocuments;
        d.ruleText = "auto: Pro, because the documents (" + std::to_string(input.documentTokens)
                     + " tokens) exceed the " + std::to_string(input.documentThresholdTokens)
                     + "-token threshold";
        return d;
    }
    d.modelId = input.flashModelId;
    d.rule = RoutingRule::DefaultFlash;
    d.ruleText = "auto: Flash (default)";
    return d;
}

} // namespace fathom::engine::remote
