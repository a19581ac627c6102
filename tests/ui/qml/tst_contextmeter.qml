// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtTest
import Fathom

// The meter adds system prompt, documents and conversation, and says so to screen readers.
TestCase {
    id: testCase
    name: "ContextMeter"
    width: 300
    height: 80
    when: windowShown

    readonly property AppController controller: app

    ContextMeter {
        id: meter
        app: testCase.controller
        width: 240
    }

    function test_countsSystemPrompt() {
        testCase.controller.chat.systemPrompt = ""
        const before = meter.used
        testCase.controller.chat.systemPrompt = "You are a careful analyst who cites pages for every claim you make."
        verify(meter.used > before)
        compare(meter.used, testCase.controller.chat.systemTokens + testCase.controller.chat.documentTokens
                             + testCase.controller.chat.conversationTokens)
        verify(meter.Accessible.name.indexOf("" + meter.limit) >= 0)
        testCase.controller.chat.systemPrompt = ""
    }
}
