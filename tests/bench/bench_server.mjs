// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Benchmark of `fathom-cli serve` (issue 4's closing note), in one run on the golden tiny
// checkpoint with the CPU engine:
//  - tokens/s delivered to one streaming client (the official `openai` npm package), measured
//    from the first to the last streamed delta, against the engine's own decode rate for the
//    very same answer (the scheduler's first-to-last token time, which the server sends as
//    `fathom_timings` with the usage chunk) (goal >= 0.95); and, as a second reference, the
//    batch-1 decode rate of `fathom-cli bench` with the same thread count, run in between;
//  - aggregate completion tokens/s with 1, 4 and 16 concurrent streaming clients, each looping
//    for --seconds, next to `fathom-cli bench --batch N`'s aggregate decode rate.
//
//   node bench_server.mjs --cli fathom-cli --tokenizer fathom_demo_tokenizer --checkpoint DIR
//        --openai DIR [--threads 1] [--seconds 10] [--runs 5]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import {
    loadOpenAI, parseArgs, prepareModel, removeModel, startServer, streamChat,
} from '../server/serve_harness.mjs';

const args = parseArgs(process.argv.slice(2));
const THREADS = String(args.threads ?? 1);
const SECONDS = Number(args.seconds ?? 10);
const RUNS = Number(args.runs ?? 5);
const DECODE = 96; // the tiny checkpoint's context is 128 tokens
const { default: OpenAI } = await loadOpenAI(args);
const modelDir = prepareModel(args);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function engineRate(batch) {
    const out = execFileSync(args.cli, ['bench', '--model', modelDir, '--json', '--threads', THREADS,
        '--prompt-tokens', '8', '--decode-tokens', String(DECODE), '--batch', String(batch)],
    { encoding: 'utf8' });
    const j = JSON.parse(out.slice(out.indexOf('{')));
    return batch > 1 ? j.batch_decode_tokens_per_s : j.decode_tokens_per_s;
}

const load0 = os.loadavg()[0].toFixed(2);
const server = await startServer(args.cli, modelDir, ['--threads', THREADS, '--max-concurrent', '16']);
try {
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 300000 });
    // Chat mode, seeded sampling: the random-weight model then rarely stops early.
    const req = (seed) => ({
        model: 'deepseek-v4-flash', messages: [{ role: 'user', content: 'hi' }],
        max_tokens: DECODE, temperature: 1, seed, reasoning_effort: 'none',
    });
    await streamChat(client, req(0)); // warm-up
    const engine1 = [];
    const delivered = [];
    const sameAnswer = []; // the server's decode rate for the very answer that was streamed
    const ratios = [];
    const wholeRatios = [];
    // Interleaved, so both see the same machine load.
    for (let i = 0; i < RUNS; ++i) {
        engine1.push(engineRate(1));
        const sent = performance.now();
        const r = await streamChat(client, req(i + 1));
        const tokens = r.usage.completion_tokens;
        if (tokens > 8 && r.times.length > 1) {
            const d = (tokens - 1) / ((r.times.at(-1) - r.times[0]) / 1000);
            delivered.push(d);
            if (r.timings?.decode_tokens_per_second > 0) {
                sameAnswer.push(r.timings.decode_tokens_per_second);
                ratios.push(d / r.timings.decode_tokens_per_second);
                // Whole answer, request sent -> last delta, against the server's time to first
                // token + decode time: unbiased by how many tokens the first delta carries.
                const engineMs = r.timings.time_to_first_token_ms
                    + (tokens - 1) / r.timings.decode_tokens_per_second * 1000;
                wholeRatios.push(engineMs / (r.times.at(-1) - sent));
            }
        }
    }
    const e1 = median(engine1);
    const d1 = median(delivered);
    const s1 = median(sameAnswer);
    const q1 = median(ratios);
    const w1 = median(wholeRatios);

    const rows = [];
    for (const n of [1, 4, 16]) {
        const deadline = performance.now() + SECONDS * 1000;
        const started = performance.now();
        let tokens = 0;
        let requests = 0;
        await Promise.all(Array.from({ length: n }, async (_, c) => {
            const cl = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 300000 });
            for (let k = 0; performance.now() < deadline; ++k) {
                const r = await streamChat(cl, req(100 * c + k));
                tokens += r.usage.completion_tokens;
                ++requests;
            }
        }));
        const s = (performance.now() - started) / 1000;
        rows.push({ n, rate: tokens / s, requests, engine: engineRate(n) });
    }

    const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
    console.log(`bench_server ${date} UTC, golden tiny checkpoint, --threads ${THREADS}, median of ${RUNS}`);
    console.log(`${'engine decode, batch 1 (fathom-cli bench)'.padEnd(46)} ${e1.toFixed(1)} tokens/s`);
    console.log(`${'delivered to one streaming client'.padEnd(46)} ${d1.toFixed(1)} tokens/s`);
    console.log(`${'engine decode of the same answers (server)'.padEnd(46)} ${s1.toFixed(1)} tokens/s`);
    console.log(`${'delivered / engine, same answer (median)'.padEnd(46)} ${q1.toFixed(3)} (goal >= 0.95) ${q1 >= 0.95 ? 'met' : 'NOT met'}`);
    console.log(`${'engine time / client time, whole answer'.padEnd(46)} ${w1.toFixed(3)} (request sent -> last delta)`);
    console.log(`${'delivered / fathom-cli bench (interleaved)'.padEnd(46)} ${(d1 / e1).toFixed(3)}`);
    console.log(`${'machine load (1-min average, start -> end)'.padEnd(46)} ${load0} -> ${os.loadavg()[0].toFixed(2)}`);
    console.log('');
    console.log('clients  aggregate tokens/s  requests  engine batch-N decode tokens/s');
    for (const r of rows)
        console.log(`${String(r.n).padStart(7)}  ${r.rate.toFixed(1).padStart(18)}  ${String(r.requests).padStart(8)}  ${r.engine.toFixed(1).padStart(30)}`);
} finally {
    await server.stop();
    removeModel(modelDir);
}
