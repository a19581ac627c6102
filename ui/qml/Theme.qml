// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
pragma Singleton
import QtQuick

// Colours and sizes of both themes; Main.qml sets `dark` and `fontSize` from the settings.
QtObject {
    property bool dark: false
    property int fontSize: 14

    readonly property color window: dark ? "#1e1f22" : "#ffffff"
    readonly property color sidebar: dark ? "#2b2d30" : "#f4f5f7"
    readonly property color panel: dark ? "#26282b" : "#fafafa"
    readonly property color text: dark ? "#dfe1e5" : "#1f2328"
    readonly property color subtleText: dark ? "#9da0a8" : "#5f6368"
    readonly property color accent: dark ? "#5e9cff" : "#1a63d8"
    readonly property color accentText: "#ffffff"
    readonly property color border: dark ? "#3c3f44" : "#dde1e6"
    readonly property color userBubble: dark ? "#2f3b52" : "#e8f0fe"
    readonly property color codeBackground: dark ? "#1a1b1e" : "#f6f8fa"
    readonly property color reasoningBackground: dark ? "#25272b" : "#f3f4f6"
    readonly property color error: dark ? "#ff8a80" : "#c5221f"
    readonly property color errorBackground: dark ? "#3d2424" : "#fdecea"
    readonly property color warning: dark ? "#ffd27a" : "#8a5a00"
    readonly property color selection: dark ? "#37414f" : "#dbe6fb"
    readonly property color documents: dark ? "#8ab4f8" : "#1a73e8"
    readonly property color conversation: dark ? "#81c995" : "#188038"
    readonly property color system: dark ? "#fdd663" : "#e37400"

    readonly property int spacing: 8
    readonly property int radius: 8
    readonly property int sidebarWidth: 280
    readonly property int panelWidth: 320
    readonly property int maxTextWidth: 860
    readonly property string monoFamily: "monospace"
}
