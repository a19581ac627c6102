// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  fathom-cli sub-commands. Each command lives in its own cmd_<name>.cpp and is listed once in
  the table in main.cpp. A command receives its arguments without the program and command names
  and returns the process exit status; it never throws or aborts. The command lines documented
  in the README are stable: other checks (CI, benchmarks, the GPU script) rely on them.
*/

#include <QStringList>

namespace fathom::cli {

using CommandFn = int (*)(const QStringList &arguments);

struct Command
{
    const char *name;
    const char *summary;
    CommandFn run;
};

// Prints "fathom-cli <command>: <message>" to stderr; returns 2 (usage error) for convenience.
int usageError(const char *command, const QString &message);

} // namespace fathom::cli
