// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtTest
import Fathom

// A streamed answer: prose and code blocks become separate delegates, code keeps its copy
// button, and appending text does not rebuild the earlier blocks.
TestCase {
    id: testCase
    name: "MarkdownView"
    width: 700
    height: 600
    when: windowShown

    readonly property AppController controller: app

    MarkdownView {
        id: view
        app: testCase.controller
        width: 600
    }

    function blocks() {
        let items = []
        for (let i = 0; i < view.children.length; ++i)
            if (view.children[i].kind !== undefined)
                items.push(view.children[i])
        return items
    }

    function test_codeAndProse() {
        view.text = "# Title\n\nSome **bold** text.\n\n```cpp\nint main() { return 0; }\n```\n\nAfter."
        const items = blocks()
        compare(items.length, 4)
        compare(items[0].kind, "text")
        compare(items[2].kind, "code")
        compare(items[2].language, "cpp")
        compare(items[2].code, "int main() { return 0; }")
        verify(items[2].item.height > 0)
    }

    function test_streamingKeepsEarlierBlocks() {
        view.text = "First paragraph.\n\nSecond"
        const first = blocks()[0]
        view.text = "First paragraph.\n\nSecond paragraph grows"
        view.text = "First paragraph.\n\nSecond paragraph grows more"
        compare(blocks()[0], first)
        compare(blocks().length, 2)
        compare(blocks()[1].markdown, "Second paragraph grows more")
    }
}
