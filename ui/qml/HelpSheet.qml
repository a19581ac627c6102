// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// The keyboard shortcuts.
Dialog {
    id: root
    title: qsTr("Keyboard shortcuts")
    modal: true
    anchors.centerIn: Overlay.overlay
    width: 460
    standardButtons: Dialog.Close

    readonly property var shortcuts: [
        [qsTr("New chat"), "Ctrl+N"],
        [qsTr("Search conversations"), "Ctrl+K / Ctrl+F"],
        [qsTr("Send message"), qsTr("Enter")],
        [qsTr("New line in the message"), qsTr("Shift+Enter")],
        [qsTr("Stop generating"), qsTr("Esc")],
        [qsTr("Regenerate the last answer"), "Ctrl+R"],
        [qsTr("Focus the message box"), "Ctrl+L"],
        [qsTr("Attach documents"), "Ctrl+O"],
        [qsTr("Show or hide documents"), "Ctrl+D"],
        [qsTr("Models and backends"), "Ctrl+Shift+M"],
        [qsTr("Settings"), "Ctrl+,"],
        [qsTr("Rename the selected conversation"), "F2"],
        [qsTr("Delete the selected conversation"), qsTr("Delete")],
        [qsTr("This help"), "F1"]
    ]

    GridLayout {
        anchors.fill: parent
        columns: 2
        rowSpacing: 6
        columnSpacing: 24
        Repeater {
            model: root.shortcuts.length * 2
            delegate: Label {
                required property int index
                readonly property var entry: root.shortcuts[Math.floor(index / 2)]
                text: index % 2 === 0 ? entry[0] : entry[1]
                font.family: index % 2 === 0 ? Qt.application.font.family : Theme.monoFamily
                font.bold: index % 2 === 1
                color: Theme.text
                Layout.fillWidth: index % 2 === 0
            }
        }
    }
}
