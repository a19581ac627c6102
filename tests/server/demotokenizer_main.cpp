// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom_demo_tokenizer DIR: writes the demo model's tokenizer.json (ui/controllers/demomodel.cpp,
// a byte-level BPE of 512 ids with BOS 0 / EOS 1, matching the golden tiny checkpoint's vocab)
// into DIR, so a copy of that checkpoint can be chatted with over the API server. Reuses the
// demo tokenizer instead of writing another one.
#include "ui/controllers/demomodel.h"

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: fathom_demo_tokenizer DIR\n");
        return 2;
    }
    const std::string path = std::string(argv[1]) + "/tokenizer.json";
    std::ofstream out(path, std::ios::binary);
    out << fathom::ui::demo::tokenizerJson();
    out.close();
    if (!out) {
        std::fprintf(stderr, "fathom_demo_tokenizer: cannot write %s\n", path.c_str());
        return 1;
    }
    return 0;
}
