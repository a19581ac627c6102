// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtTest
import Fathom

// Enter sends, Shift+Enter adds a line; with no model loaded the message is refused and the
// typed text stays in the composer (nothing typed is ever lost).
TestCase {
    id: testCase
    name: "Composer"
    width: 800
    height: 200
    when: windowShown

    // `app` is the runner's context property (tst_qml.cpp).
    readonly property AppController controller: app

    Composer {
        id: composer
        app: testCase.controller
        width: 800
    }

    function findInput() { return findChild(composer, "composerInput") }

    function test_shiftEnterAddsLine() {
        const input = findInput()
        verify(input)
        input.forceActiveFocus()
        input.text = ""
        keyClick(Qt.Key_H)
        keyClick(Qt.Key_I)
        keyClick(Qt.Key_Return, Qt.ShiftModifier)
        keyClick(Qt.Key_X)
        compare(input.text, "hi\nx")
    }

    function test_enterWithoutModelKeepsText() {
        const input = findInput()
        input.forceActiveFocus()
        input.text = "Question that must survive"
        input.cursorPosition = input.text.length
        keyClick(Qt.Key_Return)
        compare(input.text, "Question that must survive")
        compare(testCase.controller.chat.messages.count, 0)
    }

    function test_reasoningSelector() {
        const box = findChild(composer, "reasoningBox")
        verify(box)
        testCase.controller.chat.reasoningMode = "max"
        compare(box.currentValue, "max")
        testCase.controller.chat.reasoningMode = "off"
        compare(box.currentValue, "off")
    }
}
