// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Shared by the Node.js tests and benchmark of `fathom-cli serve`: builds a chat-capable copy of
// the golden tiny checkpoint (its weights + the demo model's 512-id byte-level tokenizer, written
// by fathom_demo_tokenizer from ui/controllers/demomodel.cpp), starts the server on a free
// loopback port (--port 0, the port is read from its "listening on" line), and loads the pinned
// `openai` npm package from .deps.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// ctest's convention for a skipped test (SKIP_RETURN_CODE).
export const SKIP = 77;

export function parseArgs(argv) {
    const args = {};
    for (let i = 0; i < argv.length; ++i) {
        const a = argv[i];
        if (!a.startsWith('--'))
            throw new Error(`unexpected argument ${a}`);
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) {
            args[a.slice(2)] = true;
        } else {
            args[a.slice(2)] = next;
            ++i;
        }
    }
    return args;
}

// Missing inputs skip the test, or fail it when --require is given (CI installs everything).
export function missing(args, what) {
    console.error(`${args.require ? 'FAIL' : 'SKIP'}: ${what}`);
    process.exit(args.require ? 1 : SKIP);
}

export async function loadOpenAI(args) {
    const entry = path.join(args.openai ?? '', 'index.mjs');
    if (!args.openai || !fs.existsSync(entry))
        missing(args, `the openai npm package is not at ${entry} (run scripts/fetch-test-deps.sh)`);
    const mod = await import(pathToFileURL(entry).href);
    return mod;
}

export function prepareModel(args) {
    const checkpoint = args.checkpoint;
    if (!checkpoint || !fs.existsSync(path.join(checkpoint, 'config.json')))
        missing(args, `no golden checkpoint at ${checkpoint}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fathom-serve-test-'));
    for (const name of fs.readdirSync(checkpoint)) {
        if (name === 'config.json' || name.startsWith('model'))
            fs.copyFileSync(path.join(checkpoint, name), path.join(dir, name));
    }
    const made = spawnSync(args.tokenizer, [dir], { encoding: 'utf8' });
    if (made.status !== 0)
        throw new Error(`${args.tokenizer} failed: ${made.stderr ?? made.error}`);
    return dir;
}

export function removeModel(dir) {
    fs.rmSync(dir, { recursive: true, force: true });
}

export async function startServer(cli, modelDir, extra = []) {
    const proc = spawn(cli, ['serve', '--model', modelDir, '--port', '0', ...extra], {
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    const port = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server did not start in 120 s: ${out}${err}`)), 120000);
        proc.stdout.on('data', (d) => {
            out += d;
            const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
            if (m) {
                clearTimeout(timer);
                resolve(Number(m[1]));
            }
        });
        proc.on('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`server exited with ${code}: ${out}${err}`));
        });
    });
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    return {
        baseURL: `http://127.0.0.1:${port}/v1`,
        port,
        stderr: () => err,
        alive: () => proc.exitCode === null && proc.signalCode === null,
        // SIGTERM is a clean stop; the exit code must be 0.
        async stop() {
            if (proc.exitCode !== null || proc.signalCode !== null)
                return exited;
            proc.kill('SIGTERM');
            const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
            const r = await exited;
            clearTimeout(t);
            return r;
        },
    };
}

// Streams one chat completion; returns the concatenated reasoning and content, the number of
// non-empty deltas, their arrival times (ms), the usage chunk, the finish reason and the server's
// own timings for the answer (fathom_timings, sent with the usage chunk).
export async function streamChat(client, params, options = {}) {
    const stream = await client.chat.completions.create(
        { ...params, stream: true, stream_options: { include_usage: true } }, options);
    const r = { reasoning: '', content: '', deltas: 0, times: [], usage: null, finish: null, timings: null };
    for await (const chunk of stream) {
        if (chunk.usage)
            r.usage = chunk.usage;
        // fathom-cli serve's own figures for this answer (decode rate, time to first token).
        if (chunk.fathom_timings)
            r.timings = chunk.fathom_timings;
        const choice = chunk.choices?.[0];
        if (!choice)
            continue;
        const d = choice.delta ?? {};
        if (d.reasoning_content) {
            r.reasoning += d.reasoning_content;
            ++r.deltas;
            r.times.push(performance.now());
        }
        if (d.content) {
            r.content += d.content;
            ++r.deltas;
            r.times.push(performance.now());
        }
        if (choice.finish_reason)
            r.finish = choice.finish_reason;
    }
    return r;
}
