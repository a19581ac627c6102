// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include <QString>

/*
  Where Fathom keeps its files. The data folder holds the database, the logs and the KV-cache
  snapshots:
    Linux    ~/.local/share/Fathom/Fathom        (QStandardPaths::AppLocalDataLocation)
    Windows  %LOCALAPPDATA%/Fathom/Fathom
    macOS    ~/Library/Application Support/Fathom/Fathom
  The environment variable FATHOM_DATA_DIR replaces it (tests, portable installs, several
  profiles). The settings file is fathom.ini in QStandardPaths::AppConfigLocation
  (Linux ~/.config/Fathom/Fathom/fathom.ini), or in $FATHOM_CONFIG_DIR, or, when only
  FATHOM_DATA_DIR is set, in the data folder (so a test never touches the user's settings).
  The organisation and application names must be set on QCoreApplication before these are used.
*/

namespace fathom::paths {

QString dataDir();          // created if missing
QString databasePath();     // <data>/fathom.db
QString logDir();           // <data>/logs
QString kvSnapshotDir();    // <data>/kv-snapshots
QString settingsFilePath(); // see above

} // namespace fathom::paths
