// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// A document at a page: PDF pages rendered by Poppler (with the passage highlighted), the
// extracted text for other formats.
ColumnLayout {
    id: root
    required property AppController app
    spacing: 4

    RowLayout {
        Layout.fillWidth: true
        Layout.margins: 4
        ToolButton {
            text: "←"
            Accessible.name: qsTr("Back to the document list")
            onClicked: root.app.documents.closeViewer()
        }
        Label {
            Layout.fillWidth: true
            text: root.app.documents.viewerName
            elide: Text.ElideMiddle
            font.bold: true
            color: Theme.text
        }
        ToolButton {
            text: "‹"
            enabled: root.app.documents.viewerPage > 1
            Accessible.name: qsTr("Previous page")
            onClicked: root.app.documents.viewerPage = root.app.documents.viewerPage - 1
        }
        Label {
            text: qsTr("Page %1 of %2").arg(root.app.documents.viewerPage).arg(root.app.documents.viewerPageCount)
            color: Theme.subtleText
        }
        ToolButton {
            text: "›"
            enabled: root.app.documents.viewerPage < root.app.documents.viewerPageCount
            Accessible.name: qsTr("Next page")
            onClicked: root.app.documents.viewerPage = root.app.documents.viewerPage + 1
        }
    }

    ScrollView {
        id: scroll
        Layout.fillWidth: true
        Layout.fillHeight: true
        clip: true
        contentWidth: availableWidth

        Column {
            width: scroll.availableWidth

            Image {
                objectName: "pageImage"
                visible: root.app.documents.viewerIsPdf
                width: parent.width
                fillMode: Image.PreserveAspectFit
                asynchronous: true
                cache: false
                sourceSize.width: Math.max(400, width)
                source: visible ? "image://pdfpage/" + root.app.documents.viewerPage + "/"
                                  + encodeURIComponent(root.app.documents.viewerHighlight) + "?"
                                  + encodeURIComponent(root.app.documents.viewerPath) : ""
                Accessible.name: qsTr("Page %1 of %2").arg(root.app.documents.viewerPage).arg(root.app.documents.viewerName)
                BusyIndicator { anchors.centerIn: parent; running: parent.status === Image.Loading }
            }
            TextArea {
                objectName: "pageText"
                visible: !root.app.documents.viewerIsPdf
                width: parent.width
                readOnly: true
                wrapMode: TextEdit.Wrap
                textFormat: TextEdit.RichText
                color: Theme.text
                Accessible.name: qsTr("Text of page %1").arg(root.app.documents.viewerPage)
                text: {
                    const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
                    let t = esc(root.app.documents.viewerText)
                    const h = root.app.documents.viewerHighlight
                    if (h.length > 0)
                        t = t.split(esc(h)).join("<span style=\"background-color:#ffe066;color:#000\">" + esc(h) + "</span>")
                    return "<div style=\"white-space:pre-wrap\">" + t + "</div>"
                }
            }
        }
    }
}
