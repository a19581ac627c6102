// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import Fathom

// Data folder, model folders, GPUs, context length, sampling, theme, language, font size,
// remote servers and the local API server.
Dialog {
    id: root
    required property AppController app
    readonly property SettingsController s: app.settings
    title: qsTr("Settings")
    modal: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(640, Overlay.overlay ? Overlay.overlay.width - 40 : 640)
    height: Math.min(680, Overlay.overlay ? Overlay.overlay.height - 40 : 680)
    standardButtons: Dialog.Close

    FolderDialog {
        id: dataFolderDialog
        title: qsTr("Choose the data folder")
        onAccepted: root.s.dataFolder = root.s.localPath(selectedFolder)
    }
    FolderDialog {
        id: modelFolderDialog
        title: qsTr("Add a model folder")
        onAccepted: {
            const problem = root.app.models.addModelFolder(selectedFolder)
            modelProblem.text = problem
        }
    }

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth
        GridLayout {
            width: parent.width
            columns: 2
            columnSpacing: Theme.spacing * 2
            rowSpacing: Theme.spacing

            Label { text: qsTr("Appearance"); font.bold: true; Layout.columnSpan: 2; color: Theme.text }
            Label { text: qsTr("Theme"); color: Theme.text }
            ComboBox {
                Layout.fillWidth: true
                Accessible.name: qsTr("Theme")
                textRole: "text"; valueRole: "value"
                model: [{ value: "system", text: qsTr("System") }, { value: "light", text: qsTr("Light") }, { value: "dark", text: qsTr("Dark") }]
                currentIndex: Math.max(0, indexOfValue(root.s.theme))
                onActivated: root.s.theme = currentValue
            }
            Label { text: qsTr("Language"); color: Theme.text }
            ComboBox {
                Layout.fillWidth: true
                Accessible.name: qsTr("Language")
                textRole: "name"; valueRole: "code"
                model: root.s.languages
                currentIndex: Math.max(0, indexOfValue(root.s.language))
                onActivated: root.s.language = currentValue
            }
            Label { text: qsTr("Font size"); color: Theme.text }
            SpinBox {
                from: 9; to: 28
                value: root.s.fontSize
                Accessible.name: qsTr("Font size")
                onValueModified: root.s.fontSize = value
            }

            Label { text: qsTr("Generation"); font.bold: true; Layout.columnSpan: 2; Layout.topMargin: Theme.spacing; color: Theme.text }
            Label { text: qsTr("Context length (tokens)"); color: Theme.text }
            SpinBox {
                from: 512; to: 1048576; stepSize: 4096; editable: true
                value: root.s.contextLength
                Accessible.name: qsTr("Context length")
                onValueModified: root.s.contextLength = value
            }
            Label { text: qsTr("Temperature"); color: Theme.text }
            RowLayout {
                Slider {
                    id: temperature
                    Layout.fillWidth: true
                    from: 0; to: 2; stepSize: 0.05
                    value: root.s.temperature
                    Accessible.name: qsTr("Temperature")
                    onMoved: root.s.temperature = value
                }
                Label { text: temperature.value.toFixed(2); color: Theme.text }
            }
            Label { text: qsTr("Top-p"); color: Theme.text }
            RowLayout {
                Slider {
                    id: topP
                    Layout.fillWidth: true
                    from: 0; to: 1; stepSize: 0.01
                    value: root.s.topP
                    Accessible.name: qsTr("Top-p")
                    onMoved: root.s.topP = value
                }
                Label { text: topP.value.toFixed(2); color: Theme.text }
            }
            Label { text: qsTr("Top-k (0 = off)"); color: Theme.text }
            SpinBox {
                from: 0; to: 1000; editable: true
                value: root.s.topK
                Accessible.name: qsTr("Top-k")
                onValueModified: root.s.topK = value
            }
            Label { text: qsTr("Min-p"); color: Theme.text }
            RowLayout {
                Slider {
                    id: minP
                    Layout.fillWidth: true
                    from: 0; to: 0.5; stepSize: 0.01
                    value: root.s.minP
                    Accessible.name: qsTr("Min-p")
                    onMoved: root.s.minP = value
                }
                Label { text: minP.value.toFixed(2); color: Theme.text }
            }
            Label { text: qsTr("Maximum answer tokens"); color: Theme.text }
            SpinBox {
                from: 1; to: 393216; stepSize: 256; editable: true
                value: root.s.maxTokens
                Accessible.name: qsTr("Maximum answer tokens")
                onValueModified: root.s.maxTokens = value
            }

            Label { text: qsTr("Hardware"); font.bold: true; Layout.columnSpan: 2; Layout.topMargin: Theme.spacing; color: Theme.text }
            Label { text: qsTr("GPUs to use"); color: Theme.text }
            TextField {
                Layout.fillWidth: true
                text: root.s.gpus
                placeholderText: qsTr("e.g. 0,1 (empty: the CPU)")
                Accessible.name: qsTr("GPUs to use")
                onEditingFinished: root.s.gpus = text
            }

            Label { text: qsTr("Storage"); font.bold: true; Layout.columnSpan: 2; Layout.topMargin: Theme.spacing; color: Theme.text }
            Label { text: qsTr("Data folder"); color: Theme.text }
            RowLayout {
                Layout.fillWidth: true
                Label {
                    Layout.fillWidth: true
                    text: root.s.dataFolder.length > 0 ? root.s.dataFolder : root.s.activeDataFolder
                    elide: Text.ElideMiddle
                    color: Theme.subtleText
                }
                Button {
                    text: qsTr("Change…")
                    Accessible.name: qsTr("Change the data folder")
                    onClicked: dataFolderDialog.open()
                }
            }
            Label {
                Layout.columnSpan: 2
                visible: root.s.dataFolder.length > 0 && root.s.dataFolder !== root.s.activeDataFolder
                text: qsTr("The new data folder is used after Fathom restarts.")
                color: Theme.warning
            }
            Label { text: qsTr("Model folders"); color: Theme.text; Layout.alignment: Qt.AlignTop }
            ColumnLayout {
                Layout.fillWidth: true
                Repeater {
                    model: root.s.modelFolders
                    delegate: RowLayout {
                        required property string modelData
                        Layout.fillWidth: true
                        Label { Layout.fillWidth: true; text: modelData; elide: Text.ElideMiddle; color: Theme.text }
                        ToolButton {
                            text: "✕"
                            Accessible.name: qsTr("Remove model folder %1").arg(modelData)
                            onClicked: root.app.models.removeModelFolder(modelData)
                        }
                    }
                }
                Button {
                    text: qsTr("Add model folder…")
                    Accessible.name: qsTr("Add a model folder")
                    onClicked: modelFolderDialog.open()
                }
                Label { id: modelProblem; Layout.fillWidth: true; wrapMode: Text.Wrap; color: Theme.error; visible: text.length > 0 }
            }

            // Remote servers (OpenAI-compatible: vLLM, SGLang, the DeepSeek API). Keys go to the
            // system keychain (or a private file), never into the settings file.
            Label { text: qsTr("Remote servers"); font.bold: true; Layout.columnSpan: 2; Layout.topMargin: Theme.spacing; color: Theme.text }
            ColumnLayout {
                Layout.columnSpan: 2
                Layout.fillWidth: true
                Repeater {
                    model: root.s.remoteServers
                    delegate: RowLayout {
                        required property var modelData
                        Layout.fillWidth: true
                        Label {
                            Layout.fillWidth: true
                            text: modelData.name + " — " + modelData.baseUrl + (modelData.model.length > 0 ? " (" + modelData.model + ")" : "")
                            elide: Text.ElideMiddle
                            color: Theme.text
                        }
                        Label { visible: modelData.hasKey; text: qsTr("key stored"); color: Theme.subtleText }
                        Button {
                            text: qsTr("Connect")
                            Accessible.name: qsTr("Use remote server %1").arg(modelData.name)
                            onClicked: root.app.models.loadRemoteServer(modelData.id)
                        }
                        ToolButton {
                            text: "✕"
                            Accessible.name: qsTr("Remove remote server %1").arg(modelData.name)
                            onClicked: root.s.removeRemoteServer(modelData.id)
                        }
                    }
                }
                GridLayout {
                    Layout.fillWidth: true
                    columns: 2
                    Label { text: qsTr("Name"); color: Theme.text }
                    TextField { id: rsName; Layout.fillWidth: true; placeholderText: qsTr("Office vLLM"); Accessible.name: qsTr("Remote server name") }
                    Label { text: qsTr("Address"); color: Theme.text }
                    TextField { id: rsUrl; Layout.fillWidth: true; placeholderText: "https://gpu01:8000/v1"; Accessible.name: qsTr("Remote server address") }
                    Label { text: qsTr("Model id"); color: Theme.text }
                    TextField { id: rsModel; Layout.fillWidth: true; placeholderText: qsTr("empty: the server's first model"); Accessible.name: qsTr("Remote model id") }
                    Label { text: qsTr("CA bundle"); color: Theme.text }
                    TextField { id: rsCa; Layout.fillWidth: true; placeholderText: qsTr("optional PEM file for on-premises certificates"); Accessible.name: qsTr("CA bundle file") }
                    Label { text: qsTr("Proxy"); color: Theme.text }
                    TextField { id: rsProxy; Layout.fillWidth: true; placeholderText: qsTr("empty: the system's proxy settings"); Accessible.name: qsTr("Proxy") }
                    Label { text: qsTr("API key"); color: Theme.text }
                    TextField { id: rsKey; Layout.fillWidth: true; echoMode: TextInput.Password; placeholderText: qsTr("optional"); Accessible.name: qsTr("Remote server API key") }
                }
                Button {
                    text: qsTr("Add remote server")
                    enabled: rsUrl.text.length > 0
                    onClicked: {
                        const id = root.s.saveRemoteServer({ name: rsName.text, baseUrl: rsUrl.text, model: rsModel.text, caBundle: rsCa.text, proxy: rsProxy.text }, rsKey.text, false)
                        if (id.length > 0) {
                            rsName.text = ""; rsUrl.text = ""; rsModel.text = ""; rsCa.text = ""; rsProxy.text = ""; rsKey.text = ""
                        }
                    }
                }
            }

            // The local API server for the office's other tools (same server as `fathom-cli serve`).
            Label { text: qsTr("API server"); font.bold: true; Layout.columnSpan: 2; Layout.topMargin: Theme.spacing; color: Theme.text }
            Label { text: qsTr("Serve the loaded model"); color: Theme.text }
            Switch {
                checked: root.s.serverEnabled
                Accessible.name: qsTr("Serve the loaded model over the OpenAI-compatible API")
                onToggled: root.s.serverEnabled = checked
            }
            Label { text: qsTr("Address"); color: Theme.text }
            TextField {
                Layout.fillWidth: true
                text: root.s.serverAddress
                placeholderText: "127.0.0.1"
                Accessible.name: qsTr("API server address")
                onEditingFinished: root.s.serverAddress = text
            }
            Label { text: qsTr("Port"); color: Theme.text }
            SpinBox {
                from: 1; to: 65535; editable: true
                value: root.s.serverPort
                Accessible.name: qsTr("API server port")
                onValueModified: root.s.serverPort = value
            }
            Label { text: qsTr("Concurrent requests"); color: Theme.text }
            SpinBox {
                from: 1; to: 64
                value: root.s.serverMaxConcurrent
                Accessible.name: qsTr("API server concurrent requests")
                onValueModified: root.s.serverMaxConcurrent = value
            }
            Label { text: qsTr("API key"); color: Theme.text }
            RowLayout {
                Layout.fillWidth: true
                TextField {
                    id: serverKey
                    Layout.fillWidth: true
                    echoMode: TextInput.Password
                    placeholderText: root.s.serverHasKey ? qsTr("a key is stored") : qsTr("required for addresses other than 127.0.0.1")
                    Accessible.name: qsTr("API server key")
                }
                Button {
                    text: qsTr("Set")
                    enabled: serverKey.text.length > 0
                    onClicked: { root.s.setServerApiKey(serverKey.text); serverKey.text = "" }
                }
                Button {
                    text: qsTr("Clear")
                    visible: root.s.serverHasKey
                    onClicked: root.s.setServerApiKey("")
                }
            }
            Label {
                Layout.columnSpan: 2
                Layout.fillWidth: true
                visible: text.length > 0
                text: root.s.serverStatus
                wrapMode: Text.Wrap
                color: root.s.serverRunning ? Theme.subtleText : Theme.error
            }
        }
    }
}
