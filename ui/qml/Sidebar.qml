// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// Conversations: new, search (titles and contents), date groups, rename/pin/archive/delete with
// undo, keyboard navigation (Up/Down, Enter opens, F2 renames, Delete deletes).
Rectangle {
    id: root
    required property AppController app
    signal newChatRequested()
    signal settingsRequested()
    signal modelsRequested()
    signal helpRequested()
    color: Theme.sidebar

    function focusSearch() {
        searchField.forceActiveFocus()
        searchField.selectAll()
    }

    Rectangle {
        anchors.right: parent.right
        width: 1
        height: parent.height
        color: Theme.border
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: Theme.spacing

        RowLayout {
            Layout.fillWidth: true
            Label {
                text: qsTr("Fathom")
                font.bold: true
                font.pixelSize: Theme.fontSize + 4
                Layout.fillWidth: true
                color: Theme.text
            }
            Button {
                id: newButton
                text: qsTr("New chat")
                icon.name: "document-new"
                highlighted: true
                Accessible.name: qsTr("New chat")
                Accessible.description: qsTr("Starts a new conversation (Ctrl+N)")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("New chat (Ctrl+N)")
                onClicked: root.newChatRequested()
            }
        }

        TextField {
            id: searchField
            objectName: "searchField"
            Layout.fillWidth: true
            placeholderText: qsTr("Search conversations and documents")
            Accessible.name: qsTr("Search conversations")
            selectByMouse: true
            onTextChanged: searchTimer.restart()
            Keys.onDownPressed: (searchField.text.length > 0 ? resultsView : listView).forceActiveFocus()
            Keys.onEscapePressed: text = ""
            Timer {
                id: searchTimer
                interval: 200
                onTriggered: root.app.conversations.search(searchField.text)
            }
        }

        // ---- Conversations grouped by date ----
        ListView {
            id: listView
            objectName: "conversationList"
            visible: searchField.text.length === 0
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: root.app.conversations.model
            keyNavigationEnabled: true
            activeFocusOnTab: true
            currentIndex: root.app.conversations.model.rowOf(root.app.conversations.currentId)
            highlightMoveDuration: 0
            boundsBehavior: Flickable.StopAtBounds
            Accessible.name: qsTr("Conversations")
            Accessible.role: Accessible.List
            ScrollBar.vertical: ScrollBar {}
            section.property: "section"
            section.criteria: ViewSection.FullString
            section.delegate: Label {
                required property string section
                width: ListView.view.width
                text: section
                topPadding: Theme.spacing
                bottomPadding: 4
                leftPadding: 4
                font.pixelSize: Theme.fontSize - 2
                font.bold: true
                color: Theme.subtleText
            }
            Keys.onReturnPressed: root.app.conversations.select(model.idAt(currentIndex))
            Keys.onEnterPressed: root.app.conversations.select(model.idAt(currentIndex))
            Keys.onDeletePressed: if (currentIndex >= 0) root.app.conversations.remove(model.idAt(currentIndex))
            Keys.onPressed: (event) => {
                if (event.key === Qt.Key_F2 && currentItem) {
                    currentItem.startRename()
                    event.accepted = true
                }
            }
            delegate: ConversationDelegate {
                app: root.app
                width: ListView.view.width
            }

            Label {
                anchors.centerIn: parent
                width: parent.width - 32
                visible: listView.count === 0
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.WordWrap
                color: Theme.subtleText
                text: root.app.conversations.showArchived ? qsTr("No archived conversations.")
                                                          : qsTr("No conversations yet. Type a message to start one.")
            }
        }

        // ---- Search results ----
        ListView {
            id: resultsView
            objectName: "searchResults"
            visible: searchField.text.length > 0
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: root.app.conversations.searchResults
            keyNavigationEnabled: true
            Accessible.name: qsTr("Search results")
            ScrollBar.vertical: ScrollBar {}
            function openResult(r) {
                if (r.kind === "page")
                    root.app.documents.openViewer(r.documentId, r.page, searchField.text)
                else
                    root.app.conversations.select(r.conversationId)
            }
            Keys.onReturnPressed: if (currentIndex >= 0) openResult(model[currentIndex])
            delegate: ItemDelegate {
                required property var modelData
                required property int index
                width: ListView.view.width
                highlighted: ListView.isCurrentItem
                Accessible.name: modelData.title
                onClicked: resultsView.openResult(modelData)
                contentItem: ColumnLayout {
                    spacing: 2
                    Label {
                        Layout.fillWidth: true
                        text: (modelData.kind === "page" ? qsTr("%1, page %2").arg(modelData.title).arg(modelData.page)
                                                         : modelData.title)
                        elide: Text.ElideRight
                        font.bold: true
                        color: Theme.text
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: modelData.snippet.length > 0
                        text: modelData.snippet
                        elide: Text.ElideRight
                        maximumLineCount: 2
                        wrapMode: Text.WordWrap
                        color: Theme.subtleText
                        font.pixelSize: Theme.fontSize - 1
                    }
                }
            }
            Label {
                anchors.centerIn: parent
                visible: resultsView.count === 0
                text: qsTr("Nothing found.")
                color: Theme.subtleText
            }
        }

        // ---- Undo a delete ----
        Rectangle {
            Layout.fillWidth: true
            visible: root.app.conversations.canUndo
            implicitHeight: undoRow.implicitHeight + 12
            radius: Theme.radius
            color: Theme.panel
            border.color: Theme.border
            RowLayout {
                id: undoRow
                anchors.fill: parent
                anchors.margins: 6
                Label {
                    Layout.fillWidth: true
                    text: root.app.conversations.undoText
                    elide: Text.ElideRight
                    color: Theme.text
                }
                Button {
                    text: qsTr("Undo")
                    flat: true
                    Accessible.name: qsTr("Undo delete")
                    onClicked: root.app.conversations.undoRemove()
                }
            }
        }

        // ---- Footer: model status and the other screens ----
        ItemDelegate {
            Layout.fillWidth: true
            Accessible.name: qsTr("Models and backends")
            onClicked: root.modelsRequested()
            contentItem: RowLayout {
                spacing: 6
                Rectangle {
                    width: 10; height: 10; radius: 5
                    color: root.app.models.state === "loaded" ? Theme.conversation
                         : root.app.models.state === "failed" ? Theme.error : Theme.warning
                }
                Label {
                    Layout.fillWidth: true
                    elide: Text.ElideRight
                    color: Theme.text
                    text: {
                        const m = root.app.models
                        if (m.state === "loaded") return m.currentName
                        if (m.state === "loading" || m.state === "preparing") return qsTr("Loading %1…").arg(m.currentName)
                        if (m.state === "failed") return qsTr("Model failed to load")
                        return qsTr("No model loaded")
                    }
                }
            }
        }
        RowLayout {
            Layout.fillWidth: true
            spacing: 4
            Button {
                text: qsTr("Settings")
                flat: true
                Accessible.name: qsTr("Settings")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Settings (Ctrl+,)")
                onClicked: root.settingsRequested()
            }
            Button {
                text: root.app.conversations.showArchived ? qsTr("Active") : qsTr("Archived")
                flat: true
                checkable: true
                checked: root.app.conversations.showArchived
                Accessible.name: qsTr("Show archived conversations")
                onToggled: root.app.conversations.showArchived = checked
            }
            Item { Layout.fillWidth: true }
            Button {
                text: "?"
                flat: true
                Accessible.name: qsTr("Keyboard shortcuts")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Keyboard shortcuts (F1)")
                onClicked: root.helpRequested()
            }
        }
    }
}
