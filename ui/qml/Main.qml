// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

ApplicationWindow {
    id: window
    required property AppController app
    width: 1280
    height: 820
    minimumWidth: 760
    minimumHeight: 480
    visible: true
    title: app.models.currentIsDemo ? qsTr("Fathom — demo model (random weights)") : qsTr("Fathom")
    color: Theme.window
    font.pixelSize: Theme.fontSize

    property bool documentsVisible: app.documents.model.count > 0 || app.documents.viewerOpen

    Binding { target: Theme; property: "dark"; value: window.app.darkTheme }
    Binding { target: Theme; property: "fontSize"; value: window.app.settings.fontSize }

    palette.window: Theme.window
    palette.windowText: Theme.text
    palette.base: Theme.panel
    palette.alternateBase: Theme.sidebar
    palette.text: Theme.text
    palette.button: Theme.sidebar
    palette.buttonText: Theme.text
    palette.highlight: Theme.accent
    palette.highlightedText: Theme.accentText
    palette.placeholderText: Theme.subtleText
    palette.toolTipBase: Theme.panel
    palette.toolTipText: Theme.text
    palette.mid: Theme.border
    palette.light: Theme.panel
    palette.dark: Theme.border

    // ---- Shortcuts (listed in the help sheet) ----
    Shortcut { sequence: StandardKey.New; onActivated: window.newChat() }
    Shortcut { sequences: ["Ctrl+K", StandardKey.Find]; onActivated: sidebar.focusSearch() }
    Shortcut { sequence: "Ctrl+L"; onActivated: chatView.focusComposer() }
    Shortcut { sequence: "Ctrl+,"; onActivated: settingsDialog.open() }
    Shortcut { sequence: "Ctrl+Shift+M"; onActivated: modelsDialog.open() }
    Shortcut { sequence: "Ctrl+R"; onActivated: chatView.regenerateLast() }
    Shortcut { sequence: "Ctrl+O"; onActivated: chatView.attachFiles() }
    Shortcut { sequence: "Ctrl+D"; onActivated: window.documentsVisible = !window.documentsVisible }
    Shortcut { sequences: ["F1", "Ctrl+/"]; onActivated: helpSheet.open() }
    Shortcut {
        sequence: "Escape"
        enabled: window.app.chat.generating
        onActivated: window.app.chat.stop()
    }

    function newChat() {
        app.conversations.newConversation()
        chatView.focusComposer()
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        Sidebar {
            id: sidebar
            app: window.app
            Layout.preferredWidth: Theme.sidebarWidth
            Layout.fillHeight: true
            onNewChatRequested: window.newChat()
            onSettingsRequested: settingsDialog.open()
            onModelsRequested: modelsDialog.open()
            onHelpRequested: helpSheet.open()
        }

        ChatView {
            id: chatView
            app: window.app
            Layout.fillWidth: true
            Layout.fillHeight: true
            onModelsRequested: modelsDialog.open()
            onDocumentsToggled: window.documentsVisible = !window.documentsVisible
        }

        DocumentsPanel {
            id: documentsPanel
            app: window.app
            visible: window.documentsVisible
            Layout.preferredWidth: window.app.documents.viewerOpen ? Math.min(620, window.width * 0.45) : Theme.panelWidth
            Layout.fillHeight: true
        }
    }

    DropArea {
        id: dropArea
        anchors.fill: parent
        keys: ["text/uri-list"]
        onDropped: (drop) => {
            if (drop.hasUrls) {
                window.app.documents.attach(drop.urls)
                window.documentsVisible = true
                drop.acceptProposedAction()
            }
        }
        Rectangle {
            anchors.fill: parent
            visible: dropArea.containsDrag
            color: Qt.rgba(Theme.accent.r, Theme.accent.g, Theme.accent.b, 0.12)
            border.color: Theme.accent
            border.width: 2
            Label {
                anchors.centerIn: parent
                text: qsTr("Drop files to attach them to this conversation")
                font.pixelSize: Theme.fontSize + 4
                color: Theme.accent
            }
        }
    }

    Notifications {
        id: notifications
        app: window.app
        anchors.bottom: parent.bottom
        anchors.horizontalCenter: parent.horizontalCenter
        anchors.bottomMargin: 96
        width: Math.min(parent.width - 48, 720)
    }

    SettingsDialog { id: settingsDialog; objectName: "settingsDialog"; app: window.app }
    ModelsDialog { id: modelsDialog; objectName: "modelsDialog"; app: window.app }
    HelpSheet { id: helpSheet; objectName: "helpSheet" }
}
