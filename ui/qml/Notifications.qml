// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// Messages the user can act on (engine failure, out of memory, disk full, unreadable files).
Column {
    id: root
    required property AppController app
    spacing: 4

    ListModel { id: messages }

    Connections {
        target: root.app
        function onNotify(message) {
            messages.append({ text: message })
            if (messages.count > 3)
                messages.remove(0)
        }
    }

    Repeater {
        model: messages
        delegate: Rectangle {
            id: note
            required property int index
            required property string text
            width: root.width
            implicitHeight: row.implicitHeight + 2 * Theme.spacing
            radius: Theme.radius
            color: Theme.errorBackground
            border.color: Theme.error
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
            RowLayout {
                id: row
                anchors.fill: parent
                anchors.margins: Theme.spacing
                Label {
                    Layout.fillWidth: true
                    text: note.text
                    wrapMode: Text.Wrap
                    color: Theme.text
                }
                ToolButton {
                    text: qsTr("Dismiss")
                    Accessible.name: qsTr("Dismiss message")
                    onClicked: messages.remove(note.index)
                }
            }
            Timer { interval: 15000; running: true; onTriggered: if (note.index >= 0 && note.index < messages.count) messages.remove(note.index) }
        }
    }
}
