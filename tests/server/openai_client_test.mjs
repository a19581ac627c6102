// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// A client nobody here wrote: the official `openai` npm package (pinned in
// scripts/fetch-test-deps.sh) against `fathom-cli serve` running the golden tiny checkpoint on
// the CPU. Cases: /v1/models, a non-streaming answer, the same request streamed (greedy, so the
// text must match), reasoning mode (reasoning_content deltas), errors surfaced as the package's
// APIError subclasses with their HTTP status, aborted streams (the request is cancelled and the
// server keeps serving), and a clean SIGTERM stop.
//
//   node openai_client_test.mjs --cli fathom-cli --tokenizer fathom_demo_tokenizer
//        --checkpoint DIR --openai .deps/npm/openai/node_modules/openai [--require]
import assert from 'node:assert/strict';
import {
    loadOpenAI, parseArgs, prepareModel, removeModel, startServer, streamChat,
} from './serve_harness.mjs';

const args = parseArgs(process.argv.slice(2));
const { default: OpenAI, APIError, BadRequestError } = await loadOpenAI(args);
const modelDir = prepareModel(args);
const server = await startServer(args.cli, modelDir, ['--threads', '1']);
const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
const MODEL = 'deepseek-v4-flash';
const messages = [{ role: 'user', content: 'hi' }];

let failures = 0;
async function check(name, fn) {
    try {
        await fn();
        console.log(`PASS ${name}`);
    } catch (e) {
        ++failures;
        console.log(`FAIL ${name}: ${e.stack ?? e}`);
    }
}

// A case that does not answer within `ms` fails instead of hanging the suite.
function within(ms, fn) {
    return async () => {
        let timer;
        const limit = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
        });
        try {
            await Promise.race([fn(), limit]);
        } finally {
            clearTimeout(timer);
        }
    };
}

// /health until nothing runs or waits (a cancelled request must give its slot back).
async function idle(ms = 10000) {
    const url = server.baseURL.replace(/\/v1$/, '/health');
    const deadline = performance.now() + ms;
    let h;
    do {
        h = await (await fetch(url)).json();
        if (h.running === 0 && h.queued === 0)
            return h;
        await new Promise((r) => setTimeout(r, 20));
    } while (performance.now() < deadline);
    throw new Error(`the server still has work ${ms} ms after the abort: ${JSON.stringify(h)}`);
}

try {
    await check('models.list', async () => {
        const ids = [];
        for await (const m of client.models.list())
            ids.push(m.id);
        assert.ok(ids.includes(MODEL), `models: ${ids}`);
    });

    let plain = null;
    await check('non-streaming chat (reasoning_effort none)', async () => {
        const r = await client.chat.completions.create({
            model: MODEL, messages, max_tokens: 8, temperature: 0, reasoning_effort: 'none',
        });
        assert.equal(r.object, 'chat.completion');
        assert.ok(r.id.startsWith('chatcmpl-'));
        assert.equal(r.choices.length, 1);
        const c = r.choices[0];
        assert.equal(c.message.role, 'assistant');
        assert.equal(typeof c.message.content, 'string');
        assert.ok(['length', 'stop'].includes(c.finish_reason), c.finish_reason);
        assert.ok(!c.message.reasoning_content, 'no reasoning in chat mode');
        assert.ok(r.usage.prompt_tokens > 0);
        assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 8);
        assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
        if (c.finish_reason === 'length')
            assert.equal(r.usage.completion_tokens, 8);
        plain = r;
    });

    await check('streaming chat equals the non-streaming answer (greedy)', async () => {
        assert.ok(plain, 'needs the non-streaming answer');
        const s = await streamChat(client, {
            model: MODEL, messages, max_tokens: 8, temperature: 0, reasoning_effort: 'none',
        });
        assert.equal(s.content, plain.choices[0].message.content);
        assert.equal(s.reasoning, '');
        assert.equal(s.finish, plain.choices[0].finish_reason);
        assert.ok(s.usage, 'usage chunk (stream_options.include_usage)');
        assert.equal(s.usage.completion_tokens, plain.usage.completion_tokens);
        assert.equal(s.usage.prompt_tokens, plain.usage.prompt_tokens);
    });

    await check('reasoning mode: reasoning_content deltas, same text as non-streaming', async () => {
        const params = { model: MODEL, messages, max_tokens: 12, temperature: 0, reasoning_effort: 'high' };
        const s = await streamChat(client, params);
        assert.ok(s.reasoning.length > 0, 'reasoning_content deltas arrived');
        const r = await client.chat.completions.create(params);
        const m = r.choices[0].message;
        assert.equal(m.reasoning_content ?? '', s.reasoning);
        assert.equal(m.content ?? '', s.content);
        // Thinking mode's prompt differs from chat mode's (V4's template), so prompt_tokens too.
        assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 12);
        assert.equal(s.usage.completion_tokens, r.usage.completion_tokens);
    });

    await check('seeded sampling is reproducible', async () => {
        const params = { model: MODEL, messages, max_tokens: 10, temperature: 1, seed: 42, reasoning_effort: 'none' };
        const a = await client.chat.completions.create(params);
        const b = await streamChat(client, params);
        assert.equal(b.content, a.choices[0].message.content);
    });

    await check('max_tokens beyond the context: 400 BadRequestError', async () => {
        await assert.rejects(
            client.chat.completions.create({ model: MODEL, messages, max_tokens: 100000 }),
            (e) => {
                assert.ok(e instanceof APIError, `not an APIError: ${e}`);
                assert.ok(e instanceof BadRequestError, `not a BadRequestError: ${e}`);
                assert.equal(e.status, 400);
                assert.match(e.message, /context/);
                return true;
            });
    });

    await check('streaming request with a bad field: 400 before any chunk', async () => {
        await assert.rejects(
            streamChat(client, { model: MODEL, messages, max_tokens: 'many' }),
            (e) => {
                assert.ok(e instanceof APIError, `not an APIError: ${e}`);
                assert.equal(e.status, 400);
                return true;
            });
    });

    await check('messages of the wrong type: 400 with an OpenAI error body', async () => {
        await assert.rejects(
            client.chat.completions.create({ model: MODEL, messages: 'hello', max_tokens: 4 }),
            (e) => {
                assert.ok(e instanceof APIError);
                assert.equal(e.status, 400);
                assert.equal(typeof e.error?.message, 'string');
                return true;
            });
    });

    await check('unknown route: 404 APIError', async () => {
        await assert.rejects(client.get('/no-such-route'), (e) => {
            assert.ok(e instanceof APIError);
            assert.equal(e.status, 404);
            return true;
        });
    });

    // Aborting mid-stream closes the connection; the server must cancel the request, give its
    // concurrency slot back and keep serving (the keep-alive connections of the earlier cases
    // included). Aborted at several points: right after the headers, after the first chunk,
    // after a few.
    for (const after of [0, 1, 3]) {
        await check(`aborted stream (after ${after} chunk(s)), then the server keeps serving`,
            within(60000, async () => {
                const controller = new AbortController();
                const stream = await client.chat.completions.create(
                    { model: MODEL, messages, max_tokens: 100, stream: true, reasoning_effort: 'none' },
                    { signal: controller.signal });
                if (after === 0)
                    controller.abort();
                // The package ends the iteration quietly on abort (or rejects, depending on timing).
                let seen = 0;
                try {
                    for await (const _ of stream) {
                        if (++seen === after)
                            controller.abort();
                    }
                } catch (e) {
                    assert.ok(controller.signal.aborted, `unexpected error: ${e}`);
                }
                assert.ok(seen >= after);
                await idle();
                // Four at once (the server's default --max-concurrent): every slot is free again.
                const answers = await Promise.all([0, 1, 2, 3].map(() => client.chat.completions.create({
                    model: MODEL, messages, max_tokens: 8, temperature: 0, reasoning_effort: 'none',
                })));
                for (const r of answers)
                    assert.equal(r.choices[0].message.content, plain?.choices[0].message.content);
            }));
    }
} finally {
    const alive = server.alive();
    const stopped = await server.stop();
    removeModel(modelDir);
    if (!alive) {
        ++failures;
        console.log(`FAIL the server died during the test: ${server.stderr()}`);
    } else if (stopped.code !== 0) {
        ++failures;
        console.log(`FAIL the server's exit on SIGTERM: ${JSON.stringify(stopped)}`);
    } else {
        console.log('PASS clean stop on SIGTERM');
    }
}
console.log(failures ? `${failures} case(s) failed` : 'all cases passed');
process.exit(failures ? 1 : 0);
