// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Load: 32 concurrent streaming clients (the official `openai` npm package) against
// `fathom-cli serve` on the golden tiny checkpoint with the real CPU engine, for a bounded time
// (--duration, default 60 s as in issue 4). Requests beyond --max-concurrent queue, the running
// ones share decode steps. Every answer must equal, token for token, what a single client got for
// the same request and seed before the load started (seeded sampling, a mix of chat and thinking
// mode), and no stream may be dropped.
//
//   node serve_load_test.mjs --cli fathom-cli --tokenizer fathom_demo_tokenizer --checkpoint DIR
//        --openai DIR [--clients 32] [--duration 60] [--max-concurrent 8] [--require]
import assert from 'node:assert/strict';
import {
    loadOpenAI, parseArgs, prepareModel, removeModel, startServer, streamChat,
} from './serve_harness.mjs';

const args = parseArgs(process.argv.slice(2));
const CLIENTS = Number(args.clients ?? 32);
const DURATION_S = Number(args.duration ?? 60);
const MAX_CONCURRENT = String(args['max-concurrent'] ?? 8);
const { default: OpenAI } = await loadOpenAI(args);
const modelDir = prepareModel(args);
// --exact-linear: the exact numerics give every row the same bits whatever else shares its
// steps, so any answer that differs from the single-client one is a batching bug. The default
// fp32 kernels pick a GEMV or a GEMM by the rows in a step, which changes last bits (and, on
// this chaotic random model, tokens).
const server = await startServer(args.cli, modelDir,
    ['--max-concurrent', MAX_CONCURRENT, '--exact-linear']);
const MODEL = 'deepseek-v4-flash';

// Eight distinct requests: different prompts, seeds, temperatures and modes.
const requests = Array.from({ length: 8 }, (_, k) => ({
    model: MODEL,
    messages: [{ role: 'user', content: `question ${k}: what is in the report?` }],
    max_tokens: 16 + 2 * k,
    temperature: 0.7 + 0.05 * k,
    top_p: 0.95,
    seed: 1000 + k,
    reasoning_effort: k % 2 ? 'high' : 'none',
}));

let ok = true;
try {
    const single = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 120000 });
    const reference = [];
    for (const req of requests) {
        const r = await streamChat(single, req);
        assert.ok(r.usage && r.usage.completion_tokens > 0, 'reference answer has tokens');
        reference.push(r);
    }

    const stats = { requests: 0, tokens: 0, dropped: 0, mismatched: 0, perClient: new Array(CLIENTS).fill(0) };
    const problems = [];
    const deadline = performance.now() + DURATION_S * 1000;
    const started = performance.now();
    // One client object (one connection pool) per simulated client, as 32 separate tools would.
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
        const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 300000 });
        for (let round = 0; performance.now() < deadline; ++round) {
            const k = (c + round) % requests.length;
            try {
                const r = await streamChat(client, requests[k]);
                ++stats.requests;
                ++stats.perClient[c];
                stats.tokens += r.usage?.completion_tokens ?? 0;
                const ref = reference[k];
                if (r.reasoning !== ref.reasoning || r.content !== ref.content
                    || r.usage?.completion_tokens !== ref.usage.completion_tokens
                    || r.finish !== ref.finish) {
                    ++stats.mismatched;
                    if (problems.length < 5)
                        problems.push(`client ${c} request ${k}: got ${JSON.stringify([r.reasoning, r.content, r.finish])}, `
                            + `single client got ${JSON.stringify([ref.reasoning, ref.content, ref.finish])}`);
                }
            } catch (e) {
                ++stats.dropped;
                if (problems.length < 5)
                    problems.push(`client ${c} request ${k}: ${e}`);
            }
        }
    }));
    const seconds = (performance.now() - started) / 1000;
    console.log(`clients                 ${CLIENTS} (server --max-concurrent ${MAX_CONCURRENT})`);
    console.log(`duration                ${seconds.toFixed(1)} s (bound ${DURATION_S} s + the last answers)`);
    console.log(`requests answered       ${stats.requests}`);
    console.log(`requests per client     min ${Math.min(...stats.perClient)} max ${Math.max(...stats.perClient)}`);
    console.log(`completion tokens       ${stats.tokens} (${(stats.tokens / seconds).toFixed(1)} tokens/s aggregate)`);
    console.log(`dropped                 ${stats.dropped}`);
    console.log(`differing from single   ${stats.mismatched}`);
    for (const p of problems)
        console.log(`  ${p}`);
    if (stats.dropped || stats.mismatched || Math.min(...stats.perClient) < 1) {
        ok = false;
        console.log('FAIL');
    }
    // The server still answers a single client the same way after the load.
    const after = await streamChat(single, requests[0]);
    if (after.content !== reference[0].content) {
        ok = false;
        console.log('FAIL answer after the load differs');
    }
} catch (e) {
    ok = false;
    console.log(`FAIL ${e.stack ?? e}`);
} finally {
    const alive = server.alive();
    const stopped = await server.stop();
    removeModel(modelDir);
    if (!alive || stopped.code !== 0) {
        ok = false;
        console.log(`FAIL server ${alive ? 'exit on SIGTERM ' + JSON.stringify(stopped) : 'died'}: ${server.stderr().slice(-2000)}`);
    }
}
console.log(ok ? 'PASS' : 'load test failed');
process.exit(ok ? 0 : 1);
