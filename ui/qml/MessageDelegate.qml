// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// One message: user messages as bubbles (edit, copy, branches), answers with the reasoning block,
// Markdown, errors in words, statistics and actions.
Item {
    id: root
    required property AppController app
    required property int index
    required property var messageId
    required property string role
    required property string content
    required property string reasoning
    required property bool streaming
    required property bool failed
    required property bool interrupted
    required property string errorText
    required property int siblingIndex
    required property int siblingCount
    required property var completionTokens
    required property double ttftMs
    required property double tokensPerSecond
    required property double thinkingSeconds
    required property string finishReason

    readonly property bool isUser: role === "user"
    // Read once per update: each JS read of `content` copies the whole answer into the JS heap.
    readonly property bool hasContent: content.length > 0
    readonly property bool hasReasoning: reasoning.length > 0
    property bool editing: false
    property bool reasoningOpen: streaming && !hasContent

    implicitHeight: body.implicitHeight
    Accessible.name: isUser ? qsTr("Your message") : qsTr("Answer")

    ColumnLayout {
        id: body
        width: Math.min(root.width - 4 * Theme.spacing, Theme.maxTextWidth)
        anchors.horizontalCenter: parent.horizontalCenter
        spacing: 4

        // ---- Reasoning ("Thought for N s") ----
        Rectangle {
            visible: !root.isUser && root.hasReasoning
            Layout.fillWidth: true
            implicitHeight: reasoningColumn.implicitHeight + Theme.spacing
            radius: Theme.radius
            color: Theme.reasoningBackground
            ColumnLayout {
                id: reasoningColumn
                anchors.left: parent.left
                anchors.right: parent.right
                anchors.top: parent.top
                anchors.margins: 4
                ToolButton {
                    text: (root.reasoningOpen ? "▾ " : "▸ ") + (root.streaming && !root.hasContent
                            ? qsTr("Thinking…")
                            : root.thinkingSeconds >= 0 ? qsTr("Thought for %1 s").arg(Math.max(1, Math.round(root.thinkingSeconds)))
                                                        : qsTr("Reasoning"))
                    font.pixelSize: Theme.fontSize - 1
                    Accessible.name: root.reasoningOpen ? qsTr("Hide reasoning") : qsTr("Show reasoning")
                    onClicked: root.reasoningOpen = !root.reasoningOpen
                }
                // One Label per paragraph: while the reasoning streams only the last one is laid
                // out again. Nothing is laid out while the block is closed.
                Column {
                    id: reasoningText
                    visible: root.reasoningOpen
                    Layout.fillWidth: true
                    Layout.leftMargin: Theme.spacing
                    Layout.rightMargin: Theme.spacing
                    spacing: Theme.spacing / 2
                    Accessible.role: Accessible.StaticText
                    Accessible.name: qsTr("Reasoning")
                    Repeater {
                        model: MarkdownBlockModel {
                            plainText: true
                            text: root.reasoningOpen ? root.reasoning : ""
                        }
                        delegate: Label {
                            required property string markdown
                            width: reasoningText.width
                            text: markdown
                            wrapMode: Text.Wrap
                            color: Theme.subtleText
                            textFormat: Text.PlainText
                        }
                    }
                }
            }
        }

        // ---- User bubble ----
        Rectangle {
            visible: root.isUser && !root.editing
            Layout.alignment: Qt.AlignRight
            Layout.maximumWidth: body.width * 0.85
            implicitWidth: userText.implicitWidth + 2 * Theme.spacing + 8
            implicitHeight: userText.implicitHeight + 2 * Theme.spacing
            radius: Theme.radius * 1.5
            color: Theme.userBubble
            TextEdit {
                id: userText
                anchors.fill: parent
                anchors.margins: Theme.spacing
                anchors.leftMargin: Theme.spacing + 4
                // Only a user's message: an invisible item still lays its text out, and an answer
                // would be laid out again in full at every streamed update.
                text: root.isUser ? root.content : ""
                readOnly: true
                selectByMouse: true
                wrapMode: TextEdit.Wrap
                color: Theme.text
                font.pixelSize: Theme.fontSize
                textFormat: TextEdit.PlainText
                Accessible.name: text
            }
        }

        // ---- Editing a user message ----
        ColumnLayout {
            visible: root.editing
            Layout.fillWidth: true
            TextArea {
                id: editArea
                Layout.fillWidth: true
                wrapMode: TextEdit.Wrap
                Accessible.name: qsTr("Edit message")
                Keys.onEscapePressed: root.editing = false
            }
            RowLayout {
                Layout.alignment: Qt.AlignRight
                Button {
                    text: qsTr("Cancel")
                    Accessible.name: qsTr("Cancel editing")
                    onClicked: root.editing = false
                }
                Button {
                    text: qsTr("Save and send")
                    highlighted: true
                    Accessible.name: qsTr("Save the edit and send it as a new branch")
                    onClicked: if (root.app.chat.editMessage(root.index, editArea.text)) root.editing = false
                }
            }
        }

        // ---- Answer ----
        MarkdownView {
            visible: !root.isUser && root.hasContent
            Layout.preferredWidth: body.width
            app: root.app
            text: root.isUser ? "" : root.content
        }
        BusyIndicator {
            visible: !root.isUser && root.streaming && !root.hasContent && !root.hasReasoning
            running: visible
            Layout.preferredHeight: 32
            Layout.preferredWidth: 32
        }

        // ---- Errors, in words ----
        Rectangle {
            visible: root.failed || root.interrupted
            Layout.fillWidth: true
            implicitHeight: errorLabel.implicitHeight + Theme.spacing * 2
            radius: Theme.radius
            color: Theme.errorBackground
            Label {
                id: errorLabel
                anchors.fill: parent
                anchors.margins: Theme.spacing
                wrapMode: Text.Wrap
                color: Theme.error
                text: root.interrupted ? qsTr("This answer was cut off when Fathom stopped. The text above is what was saved; regenerate to get a complete answer.")
                                       : root.errorText
                Accessible.role: Accessible.AlertMessage
                Accessible.name: text
            }
        }

        // ---- Actions, branches and statistics ----
        RowLayout {
            Layout.fillWidth: true
            layoutDirection: root.isUser ? Qt.RightToLeft : Qt.LeftToRight
            spacing: 2
            visible: !root.streaming

            ToolButton {
                text: qsTr("Copy")
                font.pixelSize: Theme.fontSize - 2
                Accessible.name: qsTr("Copy message")
                onClicked: root.app.chat.copyMessage(root.index)
            }
            ToolButton {
                visible: root.isUser
                text: qsTr("Edit")
                font.pixelSize: Theme.fontSize - 2
                enabled: !root.app.chat.generating
                Accessible.name: qsTr("Edit message")
                onClicked: {
                    editArea.text = root.content
                    root.editing = true
                    editArea.forceActiveFocus()
                }
            }
            ToolButton {
                visible: !root.isUser
                text: qsTr("Regenerate")
                font.pixelSize: Theme.fontSize - 2
                enabled: !root.app.chat.generating
                Accessible.name: qsTr("Regenerate answer")
                onClicked: root.app.chat.regenerate(root.index)
            }
            ToolButton {
                visible: root.siblingCount > 1
                text: "‹"
                enabled: root.siblingIndex > 0 && !root.app.chat.generating
                Accessible.name: qsTr("Previous branch")
                onClicked: root.app.chat.switchBranch(root.index, -1)
            }
            Label {
                visible: root.siblingCount > 1
                text: qsTr("%1 / %2").arg(root.siblingIndex + 1).arg(root.siblingCount)
                color: Theme.subtleText
                font.pixelSize: Theme.fontSize - 2
                Accessible.name: qsTr("Branch %1 of %2").arg(root.siblingIndex + 1).arg(root.siblingCount)
            }
            ToolButton {
                visible: root.siblingCount > 1
                text: "›"
                enabled: root.siblingIndex < root.siblingCount - 1 && !root.app.chat.generating
                Accessible.name: qsTr("Next branch")
                onClicked: root.app.chat.switchBranch(root.index, 1)
            }
            Item { Layout.fillWidth: true }
            Label {
                visible: !root.isUser && root.completionTokens > 0
                color: Theme.subtleText
                font.pixelSize: Theme.fontSize - 3
                text: {
                    let parts = [qsTr("%1 tokens").arg(root.completionTokens)]
                    if (root.ttftMs >= 0) parts.push(qsTr("first token %1 s").arg((root.ttftMs / 1000).toFixed(2)))
                    if (root.tokensPerSecond >= 0) parts.push(qsTr("%1 tokens/s").arg(root.tokensPerSecond.toFixed(1)))
                    if (root.finishReason === "length") parts.push(qsTr("stopped at the token limit"))
                    if (root.finishReason === "cancelled") parts.push(qsTr("stopped"))
                    return parts.join(" · ")
                }
            }
        }
    }
}
