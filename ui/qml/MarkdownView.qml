// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Fathom

// A message's Markdown: prose blocks through Qt's Markdown renderer (headings, lists, tables,
// links), code blocks highlighted with a copy button. Only changed blocks re-render.
Column {
    id: root
    required property AppController app
    property alias text: blocks.text
    property color textColor: Theme.text
    spacing: Theme.spacing

    MarkdownBlockModel {
        id: blocks
        dark: Theme.dark
    }

    Repeater {
        model: blocks
        delegate: Loader {
            id: blockLoader
            required property string kind
            required property string markdown
            required property string code
            required property string language
            required property string html
            width: root.width
            sourceComponent: kind === "code" ? codeBlock : textBlock

            Component {
                id: textBlock
                TextEdit {
                    width: blockLoader.width
                    text: blockLoader.markdown
                    textFormat: TextEdit.MarkdownText
                    wrapMode: TextEdit.Wrap
                    readOnly: true
                    selectByMouse: true
                    color: root.textColor
                    selectionColor: Theme.selection
                    selectedTextColor: Theme.text
                    font.pixelSize: Theme.fontSize
                    Accessible.role: Accessible.StaticText
                    Accessible.name: blockLoader.markdown
                    onLinkActivated: (link) => Qt.openUrlExternally(link)
                }
            }
            Component {
                id: codeBlock
                Rectangle {
                    width: blockLoader.width
                    implicitHeight: codeColumn.implicitHeight
                    radius: Theme.radius
                    color: Theme.codeBackground
                    border.color: Theme.border
                    Column {
                        id: codeColumn
                        width: parent.width
                        RowLayout {
                            width: parent.width
                            Label {
                                Layout.leftMargin: Theme.spacing
                                Layout.fillWidth: true
                                text: blockLoader.language.length > 0 ? blockLoader.language : qsTr("code")
                                color: Theme.subtleText
                                font.pixelSize: Theme.fontSize - 2
                            }
                            ToolButton {
                                id: copyButton
                                property bool copied: false
                                text: copied ? qsTr("Copied") : qsTr("Copy")
                                font.pixelSize: Theme.fontSize - 2
                                Accessible.name: qsTr("Copy code")
                                onClicked: {
                                    root.app.chat.copyText(blockLoader.code)
                                    copied = true
                                    copiedTimer.restart()
                                }
                                Timer { id: copiedTimer; interval: 1500; onTriggered: copyButton.copied = false }
                            }
                        }
                        Flickable {
                            width: parent.width
                            height: codeText.implicitHeight + Theme.spacing
                            contentWidth: codeText.implicitWidth + 2 * Theme.spacing
                            flickableDirection: Flickable.HorizontalFlick
                            clip: true
                            boundsBehavior: Flickable.StopAtBounds
                            ScrollBar.horizontal: ScrollBar { policy: ScrollBar.AsNeeded }
                            TextEdit {
                                id: codeText
                                x: Theme.spacing
                                text: blockLoader.html
                                textFormat: TextEdit.RichText
                                readOnly: true
                                selectByMouse: true
                                font.family: Theme.monoFamily
                                font.pixelSize: Theme.fontSize - 1
                                color: Theme.text
                                selectionColor: Theme.selection
                                Accessible.role: Accessible.StaticText
                                Accessible.name: qsTr("Code block")
                            }
                        }
                    }
                }
            }
        }
    }
}
