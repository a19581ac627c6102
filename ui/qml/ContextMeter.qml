// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// Tokens used by the system prompt, the documents and the conversation against the context limit.
Item {
    id: root
    required property AppController app
    readonly property int limit: Math.max(1, app.chat.contextLimit)
    readonly property int used: app.chat.systemTokens + app.chat.documentTokens + app.chat.conversationTokens
    implicitHeight: column.implicitHeight
    Accessible.name: qsTr("Context used: %1 of %2 tokens").arg(used).arg(limit)
    Accessible.role: Accessible.ProgressBar

    function fmt(n) {
        return n >= 1000000 ? (n / 1000000).toFixed(1) + "M" : n >= 1000 ? (n / 1000).toFixed(1) + "k" : "" + n
    }

    ColumnLayout {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        spacing: 2
        Label {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignRight
            font.pixelSize: Theme.fontSize - 3
            color: root.used > root.limit ? Theme.error : Theme.subtleText
            text: qsTr("Context ≈%1 / %2 tokens").arg(root.fmt(root.used)).arg(root.fmt(root.limit))
        }
        Rectangle {
            Layout.fillWidth: true
            height: 6
            radius: 3
            color: Theme.border
            Row {
                anchors.fill: parent
                Rectangle { height: parent.height; color: Theme.system; width: parent.width * Math.min(1, root.app.chat.systemTokens / root.limit) }
                Rectangle { height: parent.height; color: Theme.documents; width: parent.width * Math.min(1, root.app.chat.documentTokens / root.limit) }
                Rectangle { height: parent.height; color: Theme.conversation; width: parent.width * Math.min(1, root.app.chat.conversationTokens / root.limit) }
            }
        }
    }
    HoverHandler { id: hover }
    ToolTip.visible: hover.hovered
    ToolTip.text: qsTr("System prompt: %1 tokens\nDocuments: %2 tokens\nConversation: %3 tokens\nLimit: %4 tokens")
                  .arg(app.chat.systemTokens).arg(app.chat.documentTokens).arg(app.chat.conversationTokens).arg(limit)
}
