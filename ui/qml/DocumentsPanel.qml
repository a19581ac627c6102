// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// The conversation's documents (progress, pages, tokens, errors, remove) and the viewer.
Rectangle {
    id: root
    required property AppController app
    color: Theme.panel

    Rectangle { anchors.left: parent.left; width: 1; height: parent.height; color: Theme.border }

    StackLayout {
        anchors.fill: parent
        anchors.leftMargin: 1
        currentIndex: root.app.documents.viewerOpen ? 1 : 0

        ColumnLayout {
            spacing: Theme.spacing
            Label {
                Layout.margins: Theme.spacing
                text: qsTr("Documents")
                font.bold: true
                font.pixelSize: Theme.fontSize + 2
                color: Theme.text
            }
            ListView {
                id: list
                objectName: "documentList"
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: root.app.documents.model
                spacing: 4
                Accessible.name: qsTr("Documents of this conversation")
                ScrollBar.vertical: ScrollBar {}
                delegate: ItemDelegate {
                    id: doc
                    required property var documentId
                    required property string name
                    required property string status
                    required property double progress
                    required property int pageCount
                    required property var tokenCount
                    required property bool tokensEstimated
                    required property string errorText
                    width: ListView.view.width
                    Accessible.name: name
                    Accessible.description: statusLine.text
                    enabled: true
                    onClicked: if (documentId > 0 && (status === "ready" || status === "partial")) root.app.documents.openViewer(documentId, 1, "")
                    contentItem: ColumnLayout {
                        spacing: 2
                        RowLayout {
                            Layout.fillWidth: true
                            Label {
                                Layout.fillWidth: true
                                text: doc.name
                                elide: Text.ElideMiddle
                                font.bold: true
                                color: Theme.text
                            }
                            ToolButton {
                                text: "✕"
                                Accessible.name: qsTr("Remove %1 from this conversation").arg(doc.name)
                                onClicked: root.app.documents.remove(doc.documentId)
                            }
                        }
                        ProgressBar {
                            Layout.fillWidth: true
                            visible: doc.status === "ingesting" || doc.status === "pending"
                            indeterminate: doc.progress < 0
                            value: Math.max(0, doc.progress)
                            Accessible.name: qsTr("Reading %1").arg(doc.name)
                        }
                        Label {
                            id: statusLine
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            font.pixelSize: Theme.fontSize - 2
                            color: doc.status === "failed" ? Theme.error : Theme.subtleText
                            text: {
                                if (doc.status === "failed")
                                    return qsTr("Could not be read: %1").arg(doc.errorText)
                                if (doc.status === "ingesting" || doc.status === "pending")
                                    return qsTr("Reading…")
                                let s = qsTr("%n page(s)", "", doc.pageCount)
                                if (doc.tokenCount >= 0)
                                    s += " · " + (doc.tokensEstimated ? qsTr("≈%1 tokens").arg(doc.tokenCount)
                                                                      : qsTr("%1 tokens").arg(doc.tokenCount))
                                if (doc.status === "partial")
                                    s += " · " + qsTr("some pages have no text (scanned, no OCR)")
                                return s
                            }
                        }
                    }
                }
                Label {
                    anchors.centerIn: parent
                    width: parent.width - 32
                    visible: list.count === 0
                    wrapMode: Text.WordWrap
                    horizontalAlignment: Text.AlignHCenter
                    color: Theme.subtleText
                    text: qsTr("No documents. Attach files or drop them on the window: PDF, DOCX, text, Markdown, HTML and source code.")
                }
            }
        }

        DocumentViewer {
            app: root.app
        }
    }
}
