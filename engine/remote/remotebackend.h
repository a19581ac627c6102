// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  RemoteBackend: a Backend that drives an OpenAI-compatible server (vLLM, SGLang, the DeepSeek
  API, our own `fathom-cli serve`) over HTTP(S): `POST /v1/chat/completions` with `stream: true`
  and `GET /v1/models`.

  Thread: engine. Like every Backend it is used from one thread only; transfers run on libcurl's
  multi interface, so step() waits for network activity at most `RemoteConfig::stepWaitMs` and
  never blocks for long. Sinks are called from inside step() (and from unload(), which reports
  the requests it aborts as cancelled).

  Safety rules this class keeps:
  - the API key is sent only in the Authorization header and never appears in an error or log
    text: every message is passed through scrubSecrets() (servers sometimes echo the key in
    their 401 bodies; URLs and proxies may carry user:password);
  - a request is retried only when the connection could not be set up (name resolution, TCP
    connect, TLS handshake) and libcurl had not started sending it; once a request may have
    reached the server it is never sent again;
  - a connection dropped mid-answer keeps the text already delivered and reports the failure
    through TokenSink::onError.
  No tokenizer, no KV cache: token counts come from the server's `usage` figures.
*/

#include "engine/api/backend.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace fathom::engine::remote {

// How thinking mode and reasoning effort are expressed in the request body.
enum class RemoteDialect {
    Auto,        // DeepSeekApi for *.deepseek.com hosts, Generic otherwise
    DeepSeekApi, // `thinking: {type: enabled|disabled}` + `reasoning_effort: high|max`
    Generic,     // vLLM / SGLang: `reasoning_effort: none|high|max` + chat_template_kwargs.thinking
};

struct RemoteConfig
{
    std::string name;         // shown to the user ("Office vLLM")
    std::string baseUrl;      // "https://api.deepseek.com", "http://gpu01:8000/v1"
    std::string apiKey;       // may be empty (local servers without a key); never logged
    std::string caBundlePath; // PEM file of extra CA certificates, added to the system store
    std::string proxy;        // "http://proxy:3128"; empty = the environment's proxy settings
    bool useEnvironmentProxy = true; // false: no proxy unless `proxy` is set
    bool verifyTls = true;
    RemoteDialect dialect = RemoteDialect::Auto;

    int connectTimeoutMs = 10'000; // per attempt: name resolution + TCP + TLS
    int connectRetries = 2;        // extra attempts when the connection could not be set up
    int retryDelayMs = 500;        // doubled after each failed attempt
    int idleTimeoutSeconds = 300;  // no byte at all (not even a keep-alive) for this long
    int requestTimeoutMs = 0;      // whole request, 0 = no limit (long answers take minutes)
    int modelsTimeoutMs = 30'000;  // GET /v1/models, which load() waits for
    int stepWaitMs = 10;           // the longest step() waits for network activity
};

struct RemoteModel
{
    std::string id;
    std::string ownedBy;
    int contextLength = 0; // vLLM's max_model_len, 0 when the server does not say
};

class RemoteBackend final : public Backend
{
public:
    explicit RemoteBackend(RemoteConfig config);
    ~RemoteBackend() override;

    RemoteBackend(const RemoteBackend &) = delete;
    RemoteBackend &operator=(const RemoteBackend &) = delete;

    BackendInfo info() const override;
    // Checks the configuration (URL, CA bundle), then asks the server for /v1/models (waiting
    // at most connect + models time-outs; `progress` returning false cancels). Fails when the
    // server is unreachable, rejects the key, or does not serve `spec.id` (when it lists models;
    // "auto" and an empty id are accepted). A server without /v1/models (404) is accepted.
    Result<void> load(const ModelSpec &spec, const LoadProgressFn &progress) override;
    void unload() override;
    Result<void> submit(GenerationRequest request, TokenSink &sink) override;
    void cancel(RequestId id) override;
    bool step() override;

    // Blocking GET /v1/models with the configured time-outs and retries. For load() and for a
    // settings dialog (call it from a worker thread there; it touches no member state but the
    // configuration).
    Result<std::vector<RemoteModel>> listModels(const LoadProgressFn &progress = {}) const;
    // The models the server listed at load().
    const std::vector<RemoteModel> &models() const { return m_models; }
    const RemoteConfig &config() const { return m_config; }

    // The request body that submit() would send (for tests and debugging; has no secrets).
    Result<std::string> requestBody(const GenerationRequest &request) const;
    // `text` with the API key and any URL credentials replaced by "***".
    std::string scrubSecrets(std::string text) const;
    // The URL for `path` ("/chat/completions", "/models") under the configured base URL.
    std::string endpointUrl(const std::string &path) const;
    // The base URL without credentials, for messages.
    std::string displayUrl() const;
    RemoteDialect effectiveDialect() const;

private:
    struct Transfer;
    struct Multi;

    Error makeError(Error::Kind kind, std::string message) const;
    Result<void> applyCommonOptions(void *easy, char *errorBuffer) const;
    Result<void> startTransfer(Transfer &t);
    void finishTransfer(Transfer &t, int curlCode);
    void deliverPending(Transfer &t);
    void reportError(Transfer &t, Error error);
    void reportFinished(Transfer &t, FinishReason reason);
    void removeFromMulti(Transfer &t);
    void cleanupDone();

    RemoteConfig m_config;
    std::string m_caBlob; // system CA store + the extra bundle, when one is configured
    std::string m_defaultModel;
    std::vector<RemoteModel> m_models;
    bool m_loaded = false;
    std::unique_ptr<Multi> m_multi;
    std::vector<std::unique_ptr<Transfer>> m_transfers;
};

// Convenience for callers that hold the backend as a Backend.
std::unique_ptr<Backend> createRemoteBackend(RemoteConfig config);

} // namespace fathom::engine::remote
