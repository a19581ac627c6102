// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import Fathom

// Models (demo, local folders, remote servers) and backends; loading with progress and cancel.
Dialog {
    id: root
    required property AppController app
    readonly property ModelsController m: app.models
    title: qsTr("Models and backends")
    modal: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(720, Overlay.overlay ? Overlay.overlay.width - 40 : 720)
    height: Math.min(700, Overlay.overlay ? Overlay.overlay.height - 40 : 700)
    standardButtons: Dialog.Close

    FolderDialog {
        id: folderDialog
        title: qsTr("Choose a model folder (config.json, tokenizer.json, *.safetensors)")
        onAccepted: addProblem.text = root.m.addModelFolder(selectedFolder)
    }

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth
        ColumnLayout {
            width: parent.width
            spacing: Theme.spacing

            // ---- Current state ----
            Rectangle {
                Layout.fillWidth: true
                implicitHeight: stateColumn.implicitHeight + 2 * Theme.spacing
                radius: Theme.radius
                color: Theme.panel
                border.color: Theme.border
                ColumnLayout {
                    id: stateColumn
                    anchors.fill: parent
                    anchors.margins: Theme.spacing
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        font.bold: true
                        color: Theme.text
                        text: {
                            switch (root.m.state) {
                            case "loaded": return qsTr("Loaded: %1 on %2").arg(root.m.currentName).arg(root.m.backendDescription)
                            case "loading": return qsTr("Loading %1…").arg(root.m.currentName)
                            case "preparing": return qsTr("Creating the demo model…")
                            case "failed": return qsTr("Loading failed")
                            default: return qsTr("No model loaded")
                            }
                        }
                    }
                    ProgressBar {
                        Layout.fillWidth: true
                        visible: root.m.state === "loading" || root.m.state === "preparing"
                        value: root.m.progress
                        indeterminate: root.m.progress <= 0
                        Accessible.name: qsTr("Loading progress")
                    }
                    Label {
                        visible: root.m.state === "loading" || root.m.state === "preparing"
                        text: root.m.stage
                        color: Theme.subtleText
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: root.m.state === "failed"
                        text: root.m.errorText
                        wrapMode: Text.Wrap
                        color: Theme.error
                    }
                    RowLayout {
                        Button {
                            visible: root.m.state === "loading"
                            text: qsTr("Cancel loading")
                            Accessible.name: qsTr("Cancel loading")
                            onClicked: root.m.cancelLoad()
                        }
                        Button {
                            visible: root.m.state === "loaded"
                            text: qsTr("Unload")
                            Accessible.name: qsTr("Unload the model")
                            onClicked: root.m.unload()
                        }
                    }
                }
            }

            // ---- Models ----
            Label { text: qsTr("Models"); font.bold: true; font.pixelSize: Theme.fontSize + 1; color: Theme.text }
            Repeater {
                model: root.m.models
                delegate: Rectangle {
                    required property var modelData
                    Layout.fillWidth: true
                    implicitHeight: modelRow.implicitHeight + 2 * Theme.spacing
                    radius: Theme.radius
                    color: root.m.currentPath === modelData.path && root.m.state === "loaded" ? Theme.selection : "transparent"
                    border.color: Theme.border
                    RowLayout {
                        id: modelRow
                        anchors.fill: parent
                        anchors.margins: Theme.spacing
                        ColumnLayout {
                            Layout.fillWidth: true
                            spacing: 2
                            Label { text: modelData.name; font.bold: true; color: Theme.text; Layout.fillWidth: true; elide: Text.ElideRight }
                            Label {
                                Layout.fillWidth: true
                                wrapMode: Text.Wrap
                                font.pixelSize: Theme.fontSize - 2
                                color: modelData.kind === "demo" ? Theme.warning : modelData.problem.length > 0 ? Theme.error : Theme.subtleText
                                text: modelData.kind === "demo"
                                      ? qsTr("A tiny model with the DeepSeek V4 architecture and RANDOM weights, created on this computer. Its answers are noise; it lets you try every screen without the real weights.")
                                      : modelData.problem.length > 0 ? modelData.problem : modelData.path
                            }
                        }
                        Button {
                            text: modelData.kind === "demo" && !modelData.exists ? qsTr("Create and load") : qsTr("Load")
                            enabled: modelData.problem.length === 0 && root.m.state !== "loading" && root.m.state !== "preparing"
                            Accessible.name: qsTr("Load %1").arg(modelData.name)
                            onClicked: modelData.kind === "demo" ? root.m.useDemoModel() : root.m.load(modelData.path)
                        }
                        ToolButton {
                            visible: modelData.kind === "local"
                            text: "✕"
                            Accessible.name: qsTr("Remove %1 from the list").arg(modelData.name)
                            onClicked: root.m.removeModelFolder(modelData.path)
                        }
                    }
                }
            }
            RowLayout {
                Button {
                    text: qsTr("Add model folder…")
                    Accessible.name: qsTr("Add a model folder")
                    onClicked: folderDialog.open()
                }
                TextField {
                    id: pathField
                    Layout.fillWidth: true
                    placeholderText: qsTr("or type a folder path")
                    Accessible.name: qsTr("Model folder path")
                    onAccepted: addProblem.text = root.m.addModelFolder(text)
                }
            }
            Label { id: addProblem; Layout.fillWidth: true; wrapMode: Text.Wrap; color: Theme.error; visible: text.length > 0 }

            // ---- Remote server ----
            Label { text: qsTr("Remote server (vLLM, SGLang, DeepSeek API)"); font.bold: true; font.pixelSize: Theme.fontSize + 1; color: Theme.text; Layout.topMargin: Theme.spacing }
            GridLayout {
                Layout.fillWidth: true
                columns: 2
                Label { text: qsTr("Address"); color: Theme.text }
                TextField { id: remoteUrl; Layout.fillWidth: true; placeholderText: "http://gpu01:8000/v1"; Accessible.name: qsTr("Server address") }
                Label { text: qsTr("Model id"); color: Theme.text }
                TextField { id: remoteModel; Layout.fillWidth: true; placeholderText: qsTr("empty: the server's first model"); Accessible.name: qsTr("Model id") }
                Label { text: qsTr("API key"); color: Theme.text }
                TextField { id: remoteKey; Layout.fillWidth: true; echoMode: TextInput.Password; placeholderText: qsTr("optional"); Accessible.name: qsTr("API key") }
            }
            Button {
                text: qsTr("Connect")
                enabled: remoteUrl.text.length > 0 && root.m.state !== "loading"
                Accessible.name: qsTr("Connect to the server")
                onClicked: root.m.loadRemote(remoteUrl.text, remoteModel.text, remoteKey.text)
            }

            // ---- Backends ----
            Label { text: qsTr("Backends"); font.bold: true; font.pixelSize: Theme.fontSize + 1; color: Theme.text; Layout.topMargin: Theme.spacing }
            Repeater {
                model: root.m.backends
                delegate: RowLayout {
                    required property string name
                    required property string description
                    required property bool available
                    required property string unavailableReason
                    required property var devices
                    Layout.fillWidth: true
                    Rectangle { width: 10; height: 10; radius: 5; color: available ? Theme.conversation : Theme.error }
                    ColumnLayout {
                        Layout.fillWidth: true
                        spacing: 0
                        Label { text: name; font.bold: true; color: Theme.text }
                        Label {
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            font.pixelSize: Theme.fontSize - 2
                            color: available ? Theme.subtleText : Theme.error
                            text: available ? description : qsTr("Unavailable: %1").arg(unavailableReason)
                        }
                        // CUDA: each GPU with its memory.
                        Repeater {
                            model: devices
                            delegate: Label {
                                required property string modelData
                                Layout.fillWidth: true
                                Layout.leftMargin: Theme.spacing
                                wrapMode: Text.Wrap
                                font.pixelSize: Theme.fontSize - 2
                                color: Theme.text
                                text: modelData
                                Accessible.name: modelData
                            }
                        }
                    }
                }
            }
        }
    }
}
