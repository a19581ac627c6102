// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

ItemDelegate {
    id: root
    required property AppController app
    required property int index
    required property var conversationId
    required property string title
    required property bool pinned
    required property bool archived

    property bool renaming: false
    function startRename() {
        renaming = true
        renameField.text = title
        renameField.forceActiveFocus()
        renameField.selectAll()
    }

    highlighted: ListView.isCurrentItem
    Accessible.name: title
    Accessible.description: pinned ? qsTr("Pinned conversation") : qsTr("Conversation")
    onClicked: app.conversations.select(conversationId)
    onDoubleClicked: startRename()

    contentItem: RowLayout {
        spacing: 4
        Label {
            visible: !root.renaming
            Layout.fillWidth: true
            text: root.title
            elide: Text.ElideRight
            color: Theme.text
        }
        TextField {
            id: renameField
            visible: root.renaming
            Layout.fillWidth: true
            Accessible.name: qsTr("Conversation title")
            onAccepted: {
                root.app.conversations.rename(root.conversationId, text)
                root.renaming = false
            }
            Keys.onEscapePressed: root.renaming = false
            onActiveFocusChanged: if (!activeFocus) root.renaming = false
        }
        ToolButton {
            id: menuButton
            visible: root.hovered || root.highlighted
            text: "⋯"
            Accessible.name: qsTr("Conversation actions")
            onClicked: menu.popup()
        }
    }

    TapHandler {
        acceptedButtons: Qt.RightButton
        onTapped: menu.popup()
    }

    Menu {
        id: menu
        MenuItem {
            text: qsTr("Rename")
            onTriggered: root.startRename()
        }
        MenuItem {
            text: root.pinned ? qsTr("Unpin") : qsTr("Pin")
            onTriggered: root.app.conversations.setPinned(root.conversationId, !root.pinned)
        }
        MenuItem {
            text: root.archived ? qsTr("Unarchive") : qsTr("Archive")
            onTriggered: root.app.conversations.setArchived(root.conversationId, !root.archived)
        }
        MenuSeparator {}
        MenuItem {
            text: qsTr("Delete")
            onTriggered: root.app.conversations.remove(root.conversationId)
        }
    }
}
