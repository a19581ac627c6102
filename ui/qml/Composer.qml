// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import Fathom

// Enter sends, Shift+Enter adds a line; attach files; reasoning mode; send / stop. The text is
// cleared only when the message was accepted, so nothing typed is lost on an error.
Rectangle {
    id: root
    required property AppController app
    color: Theme.window
    implicitHeight: column.implicitHeight + 2 * Theme.spacing

    function focusInput() { input.forceActiveFocus() }
    function attachFiles() { fileDialog.open() }
    function send() {
        if (root.app.chat.send(input.text))
            input.text = ""
    }

    FileDialog {
        id: fileDialog
        title: qsTr("Attach documents")
        fileMode: FileDialog.OpenFiles
        nameFilters: [qsTr("Documents (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)"),
                      qsTr("All files (*)")]
        onAccepted: root.app.documents.attach(selectedFiles)
    }

    Rectangle { anchors.top: parent.top; width: parent.width; height: 1; color: Theme.border }

    ColumnLayout {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.verticalCenter: parent.verticalCenter
        anchors.leftMargin: Math.max(Theme.spacing * 2, (parent.width - Theme.maxTextWidth) / 2)
        anchors.rightMargin: anchors.leftMargin
        spacing: 4

        Rectangle {
            Layout.fillWidth: true
            implicitHeight: Math.min(220, Math.max(48, input.implicitHeight + 8))
            radius: Theme.radius * 1.5
            color: Theme.panel
            border.color: input.activeFocus ? Theme.accent : Theme.border
            ScrollView {
                anchors.fill: parent
                anchors.margins: 4
                TextArea {
                    id: input
                    objectName: "composerInput"
                    wrapMode: TextEdit.Wrap
                    placeholderText: root.app.models.state === "loaded" ? qsTr("Message Fathom… (Enter sends, Shift+Enter for a new line)")
                                                                          : qsTr("Type a message; load a model in Models to send it")
                    Accessible.name: qsTr("Message")
                    Accessible.description: qsTr("Enter sends, Shift+Enter starts a new line")
                    background: null
                    color: Theme.text
                    font.pixelSize: Theme.fontSize
                    Keys.onPressed: (event) => {
                        if ((event.key === Qt.Key_Return || event.key === Qt.Key_Enter)
                                && !(event.modifiers & Qt.ShiftModifier)) {
                            root.send()
                            event.accepted = true
                        }
                    }
                }
            }
        }

        RowLayout {
            Layout.fillWidth: true
            spacing: Theme.spacing
            Button {
                text: qsTr("Attach")
                flat: true
                Accessible.name: qsTr("Attach documents")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Attach documents (Ctrl+O), or drop files on the window")
                onClicked: fileDialog.open()
            }
            Label { text: qsTr("Reasoning:"); color: Theme.subtleText }
            ComboBox {
                id: reasoningBox
                objectName: "reasoningBox"
                Accessible.name: qsTr("Reasoning mode")
                textRole: "text"
                valueRole: "value"
                model: [
                    { value: "off", text: qsTr("Off") },
                    { value: "high", text: qsTr("High") },
                    { value: "max", text: qsTr("Max") }
                ]
                currentIndex: Math.max(0, indexOfValue(root.app.chat.reasoningMode))
                onActivated: root.app.chat.reasoningMode = currentValue
            }
            Item { Layout.fillWidth: true }
            Button {
                visible: !root.app.chat.generating
                text: qsTr("Send")
                highlighted: true
                enabled: input.text.trim().length > 0
                Accessible.name: qsTr("Send message")
                onClicked: root.send()
            }
            Button {
                visible: root.app.chat.generating
                text: qsTr("Stop")
                Accessible.name: qsTr("Stop generating")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Stop (Esc)")
                onClicked: root.app.chat.stop()
            }
        }
    }
}
