// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// The open conversation: header (title, model, context meter), the virtualised message list
// and the composer.
Item {
    id: root
    required property AppController app
    signal modelsRequested()
    signal documentsToggled()

    function focusComposer() { composer.focusInput() }
    function attachFiles() { composer.attachFiles() }
    function regenerateLast() {
        const n = messageList.count
        if (n > 0 && !app.chat.generating)
            app.chat.regenerate(n - 1)
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        // ---- Header ----
        Rectangle {
            Layout.fillWidth: true
            implicitHeight: header.implicitHeight + 2 * Theme.spacing
            color: Theme.window
            Rectangle { anchors.bottom: parent.bottom; width: parent.width; height: 1; color: Theme.border }
            RowLayout {
                id: header
                anchors.fill: parent
                anchors.margins: Theme.spacing
                spacing: Theme.spacing
                ColumnLayout {
                    Layout.fillWidth: true
                    spacing: 0
                    Label {
                        Layout.fillWidth: true
                        text: root.app.chat.title.length > 0 ? root.app.chat.title : qsTr("New conversation")
                        font.bold: true
                        font.pixelSize: Theme.fontSize + 2
                        elide: Text.ElideRight
                        color: Theme.text
                    }
                    Label {
                        Layout.fillWidth: true
                        text: root.app.models.state === "loaded" ? root.app.models.currentName + " · " + root.app.models.backendDescription
                                                                   : qsTr("No model loaded")
                        elide: Text.ElideRight
                        font.pixelSize: Theme.fontSize - 2
                        color: root.app.models.currentIsDemo ? Theme.warning : Theme.subtleText
                    }
                }
                ContextMeter {
                    app: root.app
                    Layout.preferredWidth: 220
                }
                Button {
                    text: qsTr("System prompt")
                    flat: true
                    checkable: true
                    checked: systemPromptBox.visible
                    Accessible.name: qsTr("System prompt of this conversation")
                    onToggled: systemPromptBox.visible = checked
                }
                Button {
                    text: qsTr("Documents (%1)").arg(root.app.documents.model.count)
                    flat: true
                    Accessible.name: qsTr("Show or hide the documents panel")
                    ToolTip.visible: hovered
                    ToolTip.text: qsTr("Documents panel (Ctrl+D)")
                    onClicked: root.documentsToggled()
                }
            }
        }

        // ---- Demo model notice ----
        Rectangle {
            Layout.fillWidth: true
            visible: root.app.models.currentIsDemo
            implicitHeight: demoLabel.implicitHeight + 12
            color: Theme.errorBackground
            Label {
                id: demoLabel
                anchors.fill: parent
                anchors.margins: 6
                wrapMode: Text.WordWrap
                horizontalAlignment: Text.AlignHCenter
                color: Theme.text
                text: qsTr("You are using the demo model: a tiny model with random weights. Its answers are noise. Load a real model in Models.")
            }
        }

        // ---- System prompt ----
        Pane {
            id: systemPromptBox
            visible: false
            Layout.fillWidth: true
            background: Rectangle { color: Theme.panel }
            ColumnLayout {
                anchors.fill: parent
                Label { text: qsTr("System prompt for this conversation"); color: Theme.subtleText }
                ScrollView {
                    Layout.fillWidth: true
                    Layout.preferredHeight: 90
                    TextArea {
                        id: systemPromptArea
                        text: root.app.chat.systemPrompt
                        wrapMode: TextEdit.Wrap
                        placeholderText: qsTr("e.g. You are a careful analyst. Answer in English and cite pages.")
                        Accessible.name: qsTr("System prompt")
                        onEditingFinished: root.app.chat.systemPrompt = text
                    }
                }
            }
        }

        // ---- Messages ----
        ListView {
            id: messageList
            objectName: "messageList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: root.app.chat.messages
            spacing: Theme.spacing * 2
            topMargin: Theme.spacing * 2
            bottomMargin: Theme.spacing * 2
            cacheBuffer: 800
            reuseItems: false
            boundsBehavior: Flickable.StopAtBounds
            Accessible.name: qsTr("Messages")
            ScrollBar.vertical: ScrollBar { id: scrollBar }

            // Follows the end while text streams in, unless the user scrolled up.
            property bool stickToEnd: true
            onMovementEnded: stickToEnd = atYEnd
            onContentHeightChanged: if (stickToEnd) Qt.callLater(positionViewAtEnd)
            onCountChanged: { stickToEnd = true; Qt.callLater(positionViewAtEnd) }

            delegate: MessageDelegate {
                app: root.app
                width: ListView.view.width
            }

            Column {
                anchors.centerIn: parent
                visible: messageList.count === 0 && !root.app.chat.loading
                spacing: Theme.spacing
                width: Math.min(parent.width - 48, 520)
                Label {
                    width: parent.width
                    horizontalAlignment: Text.AlignHCenter
                    text: qsTr("Ask a question, or drop documents here to analyse them.")
                    font.pixelSize: Theme.fontSize + 4
                    wrapMode: Text.WordWrap
                    color: Theme.text
                }
                Label {
                    width: parent.width
                    horizontalAlignment: Text.AlignHCenter
                    wrapMode: Text.WordWrap
                    color: Theme.subtleText
                    text: qsTr("Enter sends, Shift+Enter starts a new line. Press F1 for all keyboard shortcuts.")
                }
                Button {
                    anchors.horizontalCenter: parent.horizontalCenter
                    visible: root.app.models.state !== "loaded"
                    text: qsTr("Open Models")
                    Accessible.name: qsTr("Open Models")
                    onClicked: root.modelsRequested()
                }
            }
            BusyIndicator {
                anchors.centerIn: parent
                running: root.app.chat.loading
                visible: running
            }
        }

        Composer {
            id: composer
            app: root.app
            Layout.fillWidth: true
        }
    }
}
