// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "remotebackend.h"

#include "chunkdecoder.h"
#include "sseparser.h"

#include "engine/core/log.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

namespace fathom::engine::remote {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char *kComponent = "remote";
constexpr std::size_t kMaxErrorBody = 64u << 10;
constexpr std::size_t kMaxJsonBody = 64u << 20;

void ensureCurlGlobalInit()
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
        return char(std::tolower(c));
    });
    return s;
}

// Removes "user:password@" from a URL (proxies and base URLs may carry credentials).
std::string withoutUserInfo(const std::string &url)
{
    const std::size_t scheme = url.find("://");
    const std::size_t hostStart = scheme == std::string::npos ? 0 : scheme + 3;
    const std::size_t pathStart = url.find_first_of("/?#", hostStart);
    const std::size_t at = url.rfind('@', pathStart == std::string::npos ? url.size() : pathStart);
    if (at == std::string::npos || at < hostStart)
        return url;
    return url.substr(0, hostStart) + url.substr(at + 1);
}

std::string userInfoOf(const std::string &url)
{
    const std::size_t scheme = url.find("://");
    const std::size_t hostStart = scheme == std::string::npos ? 0 : scheme + 3;
    const std::size_t pathStart = url.find_first_of("/?#", hostStart);
    const std::size_t at = url.rfind('@', pathStart == std::string::npos ? url.size() : pathStart);
    if (at == std::string::npos || at < hostStart)
        return {};
    return url.substr(hostStart, at - hostStart);
}

void replaceAll(std::string &text, const std::string &needle, const std::string &with)
{
    if (needle.empty())
        return;
    std::size_t pos = 0;
    while ((pos = text.find(needle, pos)) != std::string::npos) {
        text.replace(pos, needle.size(), with);
        pos += with.size();
    }
}

const char *roleName(chat::Role role)
{
    switch (role) {
    case chat::Role::System:
        return "system";
    case chat::Role::User:
        return "user";
    case chat::Role::Assistant:
        return "assistant";
    case chat::Role::Tool:
        return "tool";
    case chat::Role::Developer:
        return "developer";
    case chat::Role::LatestReminder:
        // The OpenAI API has no such role; a reminder is an instruction, so it travels as one.
        return "system";
    }
    return "user";
}

std::string httpReason(long status)
{
    switch (status) {
    case 400:
        return "bad request";
    case 401:
        return "unauthorized: check the API key";
    case 402:
        return "payment required: check the account balance";
    case 403:
        return "forbidden";
    case 404:
        return "not found: check the base URL and the model id";
    case 408:
        return "request timeout";
    case 413:
        return "request too large";
    case 422:
        return "invalid request";
    case 429:
        return "too many requests: rate limit or quota reached, try again later";
    case 500:
        return "internal server error";
    case 502:
        return "bad gateway";
    case 503:
        return "service unavailable: the server is overloaded or starting";
    case 504:
        return "gateway timeout";
    default:
        return status >= 500 ? "server error" : "error";
    }
}

Error::Kind kindForStatus(long status)
{
    switch (status) {
    case 400:
    case 404:
    case 413:
    case 422:
        return Error::Kind::InvalidArgument;
    default:
        return Error::Kind::Network;
    }
}

bool readFile(const std::string &path, std::string &out)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return static_cast<bool>(in) || in.eof();
}

// Connection set-up failures: the only ones worth trying again, and only while nothing was sent.
bool isConnectFailure(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return true;
    default:
        return false;
    }
}

// libcurl stamps the pre-transfer time just before it starts sending the request: while it is
// zero the server cannot have seen a byte of it.
bool requestMayHaveBeenSent(CURL *easy)
{
    curl_off_t pretransfer = 0;
    if (curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer) != CURLE_OK)
        return true;
    return pretransfer > 0;
}

std::string curlMessage(CURLcode code, const char *errorBuffer)
{
    std::string text = (errorBuffer && errorBuffer[0]) ? std::string(errorBuffer)
                                                       : curl_easy_strerror(code);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    return text;
}

// Floats as the user typed them: 0.6f goes out as 0.6, not 0.6000000238418579.
double plainNumber(float value)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.7g", static_cast<double>(value));
    return std::strtod(text, nullptr);
}

double msBetween(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double, std::milli>(b - a).count();
}

struct EasyDeleter
{
    void operator()(CURL *easy) const { curl_easy_cleanup(easy); }
};
struct SlistDeleter
{
    void operator()(curl_slist *list) const { curl_slist_free_all(list); }
};

} // namespace

// ---- Transfers ---------------------------------------------------------------------------------

struct RemoteBackend::Multi
{
    CURLM *handle = nullptr;
    Multi() { handle = curl_multi_init(); }
    ~Multi()
    {
        if (handle)
            curl_multi_cleanup(handle);
    }
};

struct RemoteBackend::Transfer
{
    enum class Mode { Unknown, Stream, Json, ErrorBody };

    RemoteBackend *owner = nullptr;
    RequestId id = 0;
    TokenSink *sink = nullptr;
    std::string body;
    std::string url;
    std::string requestedModel; // the id in the request body (the reported one wins)
    std::unique_ptr<CURL, EasyDeleter> easy;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    char errorBuffer[CURL_ERROR_SIZE] = {};

    Mode mode = Mode::Unknown;
    long httpStatus = 0;
    std::string retryAfter;
    std::string rawBody; // error bodies and non-streamed answers
    SseParser parser;
    ChunkDecoder decoder;
    std::vector<SseEvent> events;
    std::string pendingReasoning;
    std::string pendingContent;
    std::optional<FinishReason> finishReason;
    std::string rawFinishReason;
    std::optional<Error> streamError; // an error object sent inside the stream
    std::size_t skippedEvents = 0;
    bool sawDone = false;

    bool inMulti = false;
    bool cancelRequested = false;
    bool done = false;
    int attempt = 0;
    std::optional<Clock::time_point> retryAt;
    std::string lastConnectError;

    Clock::time_point submitted;
    std::optional<Clock::time_point> firstText;
    std::size_t deliveredBytes = 0;

    void resetForAttempt()
    {
        mode = Mode::Unknown;
        httpStatus = 0;
        retryAfter.clear();
        rawBody.clear();
        parser.reset();
        decoder = ChunkDecoder();
        events.clear();
        errorBuffer[0] = '\0';
    }

    void handleEvents()
    {
        for (SseEvent &event : events) {
            if (sawDone)
                break; // nothing after [DONE] counts
            if (event.data == "[DONE]") {
                sawDone = true;
                break;
            }
            Result<ChunkDelta> delta = decoder.decodeChunk(event.data);
            if (!delta) {
                if (delta.error().kind == Error::Kind::Format) {
                    // A proxy or a server bug injected something that is not a chunk: skip it
                    // rather than lose the answer; a stream that then never finishes still fails.
                    if (skippedEvents++ == 0)
                        logWarning(kComponent,
                                   owner->scrubSecrets("skipping a stream event: "
                                                       + delta.error().message));
                    continue;
                }
                streamError = delta.error();
                sawDone = true; // stop reading: the server gave up on this answer
                break;
            }
            pendingReasoning += delta->reasoning;
            pendingContent += delta->content;
            if (delta->finishReason) {
                finishReason = delta->finishReason;
                rawFinishReason = delta->rawFinishReason;
            }
        }
        events.clear();
    }

    static size_t onHeader(char *data, size_t size, size_t count, void *user)
    {
        auto *t = static_cast<Transfer *>(user);
        const std::string line(data, size * count);
        const std::string low = lower(line);
        if (low.rfind("retry-after:", 0) == 0) {
            std::string value = line.substr(12);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.erase(0, 1);
            while (!value.empty()
                   && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
                value.pop_back();
            t->retryAfter = value;
        }
        return size * count;
    }

    static size_t onWrite(char *data, size_t size, size_t count, void *user)
    {
        auto *t = static_cast<Transfer *>(user);
        const size_t n = size * count;
        if (t->cancelRequested)
            return 0; // aborts the transfer; step() reports the cancellation
        if (t->mode == Mode::Unknown) {
            curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &t->httpStatus);
            char *contentType = nullptr;
            curl_easy_getinfo(t->easy.get(), CURLINFO_CONTENT_TYPE, &contentType);
            const std::string type = contentType ? lower(contentType) : std::string();
            if (t->httpStatus < 200 || t->httpStatus >= 300)
                t->mode = Mode::ErrorBody;
            else if (type.find("text/event-stream") != std::string::npos)
                t->mode = Mode::Stream;
            else if (type.find("json") != std::string::npos)
                t->mode = Mode::Json; // a server that ignored stream: true
            else {
                // No useful content type: a JSON answer starts with '{', a stream does not.
                std::size_t i = 0;
                while (i < n && std::isspace(static_cast<unsigned char>(data[i])))
                    ++i;
                t->mode = (i < n && data[i] == '{') ? Mode::Json : Mode::Stream;
            }
        }
        switch (t->mode) {
        case Mode::Stream:
            if (t->sawDone)
                return n;
            if (!t->parser.feed(std::string_view(data, n), t->events)) {
                t->streamError = Error(Error::Kind::Format,
                                       "the server's event stream is malformed: "
                                           + t->parser.errorMessage());
                t->handleEvents();
                return 0;
            }
            t->handleEvents();
            return n;
        case Mode::ErrorBody:
            if (t->rawBody.size() < kMaxErrorBody)
                t->rawBody.append(data, std::min(n, kMaxErrorBody - t->rawBody.size()));
            return n;
        case Mode::Json:
            if (t->rawBody.size() + n > kMaxJsonBody)
                return 0;
            t->rawBody.append(data, n);
            return n;
        case Mode::Unknown:
            break;
        }
        return n;
    }
};

// ---- RemoteBackend -----------------------------------------------------------------------------

RemoteBackend::RemoteBackend(RemoteConfig config)
    : m_config(std::move(config))
{
    ensureCurlGlobalInit();
    while (!m_config.baseUrl.empty() && m_config.baseUrl.back() == '/')
        m_config.baseUrl.pop_back();
}

RemoteBackend::~RemoteBackend()
{
    for (auto &t : m_transfers)
        removeFromMulti(*t);
    m_transfers.clear();
}

std::unique_ptr<Backend> createRemoteBackend(RemoteConfig config)
{
    return std::make_unique<RemoteBackend>(std::move(config));
}

RemoteDialect RemoteBackend::effectiveDialect() const
{
    if (m_config.dialect != RemoteDialect::Auto)
        return m_config.dialect;
    const std::string url = lower(withoutUserInfo(m_config.baseUrl));
    const std::size_t scheme = url.find("://");
    const std::size_t hostStart = scheme == std::string::npos ? 0 : scheme + 3;
    std::string host = url.substr(hostStart, url.find_first_of(":/?#", hostStart) - hostStart);
    const std::string suffix = "deepseek.com";
    const bool deepseek = host == suffix
                          || (host.size() > suffix.size()
                              && host.compare(host.size() - suffix.size() - 1,
                                              std::string::npos,
                                              "." + suffix)
                                     == 0);
    return deepseek ? RemoteDialect::DeepSeekApi : RemoteDialect::Generic;
}

std::string RemoteBackend::scrubSecrets(std::string text) const
{
    replaceAll(text, m_config.apiKey, "***");
    for (const std::string *url : {&m_config.baseUrl, &m_config.proxy}) {
        const std::string userInfo = userInfoOf(*url);
        if (userInfo.empty())
            continue;
        replaceAll(text, userInfo, "***");
        // The password alone may appear too (libcurl messages, server echoes).
        if (const std::size_t colon = userInfo.find(':'); colon != std::string::npos)
            replaceAll(text, userInfo.substr(colon + 1), "***");
    }
    return text;
}

std::string RemoteBackend::displayUrl() const
{
    return withoutUserInfo(m_config.baseUrl);
}

std::string RemoteBackend::endpointUrl(const std::string &path) const
{
    // The OpenAI SDK convention is a base URL that already ends in /v1 ("http://gpu01:8000/v1");
    // a bare host ("https://api.deepseek.com") gets /v1 added.
    const std::string &base = m_config.baseUrl;
    const std::size_t scheme = base.find("://");
    const std::size_t hostStart = scheme == std::string::npos ? 0 : scheme + 3;
    const bool hasPath = base.find('/', hostStart) != std::string::npos;
    return base + (hasPath ? "" : "/v1") + path;
}

Error RemoteBackend::makeError(Error::Kind kind, std::string message) const
{
    return Error(kind, scrubSecrets(std::move(message)), "remote " + scrubSecrets(displayUrl()));
}

BackendInfo RemoteBackend::info() const
{
    BackendInfo info;
    info.kind = BackendKind::Remote;
    const std::string name = m_config.name.empty() ? std::string("Remote server") : m_config.name;
    info.description = scrubSecrets(name + " (" + displayUrl() + ")");
    info.capabilities.tokenizer = false;
    info.capabilities.kvSnapshots = false;
    info.capabilities.logits = false;
    info.capabilities.concurrentRequests = true;
    info.available = true;
    return info;
}

Result<void> RemoteBackend::applyCommonOptions(void *handle, char *errorBuffer) const
{
    CURL *easy = static_cast<CURL *>(handle);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errorBuffer);
    // Redirects are not followed: re-posting a chat request elsewhere is not ours to decide.
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 // 7.85
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(easy,
                     CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max(1, m_config.connectTimeoutMs)));
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "Fathom/0.1");
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); // whatever libcurl can decode
    if (m_config.idleTimeoutSeconds > 0) {
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(easy,
                         CURLOPT_LOW_SPEED_TIME,
                         static_cast<long>(m_config.idleTimeoutSeconds));
    }
    if (!m_config.proxy.empty())
        curl_easy_setopt(easy, CURLOPT_PROXY, m_config.proxy.c_str());
    else if (!m_config.useEnvironmentProxy)
        curl_easy_setopt(easy, CURLOPT_PROXY, ""); // "" switches the environment's proxy off
    if (!m_config.verifyTls) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!m_caBlob.empty()) {
        curl_blob blob;
        blob.data = const_cast<char *>(m_caBlob.data());
        blob.len = m_caBlob.size();
        blob.flags = CURL_BLOB_NOCOPY; // m_caBlob outlives every handle
        if (curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK)
            return fail(Error::Kind::Unsupported, "this libcurl cannot use an extra CA bundle");
    }
    return {};
}

Result<std::vector<RemoteModel>> RemoteBackend::listModels(const LoadProgressFn &progress) const
{
    const std::string url = endpointUrl("/models");
    std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    if (!easy)
        return unexpected(makeError(Error::Kind::Internal, "libcurl could not create a handle"));
    char errorBuffer[CURL_ERROR_SIZE] = {};
    if (auto r = applyCommonOptions(easy.get(), errorBuffer); !r)
        return unexpected(makeError(r.error().kind, r.error().message));

    std::unique_ptr<curl_slist, SlistDeleter> headers;
    curl_slist *list = curl_slist_append(nullptr, "Accept: application/json");
    if (!m_config.apiKey.empty())
        list = curl_slist_append(list, ("Authorization: Bearer " + m_config.apiKey).c_str());
    headers.reset(list);

    std::string body;
    struct Ctx
    {
        std::string *body;
        const LoadProgressFn *progress;
    } ctx{&body, &progress};
    curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(easy.get(), CURLOPT_HTTPGET, 1L);
    if (m_config.modelsTimeoutMs > 0)
        curl_easy_setopt(easy.get(),
                         CURLOPT_TIMEOUT_MS,
                         static_cast<long>(m_config.modelsTimeoutMs));
    curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(
        easy.get(),
        CURLOPT_WRITEFUNCTION,
        +[](char *data, size_t size, size_t count, void *user) -> size_t {
            auto *c = static_cast<Ctx *>(user);
            if (c->body->size() + size * count > kMaxJsonBody)
                return 0;
            c->body->append(data, size * count);
            return size * count;
        });
    curl_easy_setopt(easy.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy.get(), CURLOPT_XFERINFODATA, &ctx);
    curl_easy_setopt(
        easy.get(),
        CURLOPT_XFERINFOFUNCTION,
        +[](void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
            auto *c = static_cast<Ctx *>(user);
            if (*c->progress
                && !(*c->progress)(LoadProgress{0, 0, "asking the server for its models"}))
                return 1;
            return 0;
        });

    CURLcode code = CURLE_OK;
    int delay = std::max(0, m_config.retryDelayMs);
    int attempts = 0;
    for (int attempt = 0;; ++attempt) {
        attempts = attempt + 1;
        body.clear();
        errorBuffer[0] = '\0';
        code = curl_easy_perform(easy.get());
        // A GET has no side effects, but the rule is the same as for chat requests: only
        // connection set-up failures are retried.
        if (code == CURLE_OK || !isConnectFailure(code) || requestMayHaveBeenSent(easy.get())
            || attempt >= m_config.connectRetries)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        delay *= 2;
    }
    if (code == CURLE_ABORTED_BY_CALLBACK)
        return unexpected(
            makeError(Error::Kind::Cancelled, "listing the server's models was cancelled"));
    if (code != CURLE_OK)
        return unexpected(makeError(Error::Kind::Network,
                                    "could not get the model list from " + url + " after "
                                        + std::to_string(attempts)
                                        + " attempt(s): " + curlMessage(code, errorBuffer)));
    long status = 0;
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300)
        return unexpected(makeError(status == 404 ? Error::Kind::Unsupported : kindForStatus(status),
                                    "the server answered HTTP " + std::to_string(status) + " ("
                                        + httpReason(status) + ") to " + url + ": "
                                        + errorMessageFromBody(body)));
    const json root = json::parse(body, nullptr, false);
    if (root.is_discarded() || !root.is_object() || !root.contains("data")
        || !root["data"].is_array())
        return unexpected(makeError(Error::Kind::Format,
                                    "the model list from " + url
                                        + " is not an OpenAI-style {\"data\": [...]} object"));
    std::vector<RemoteModel> models;
    for (const json &m : root["data"]) {
        if (!m.is_object() || !m.contains("id") || !m["id"].is_string())
            continue;
        RemoteModel model;
        model.id = m["id"].get<std::string>();
        if (m.contains("owned_by") && m["owned_by"].is_string())
            model.ownedBy = m["owned_by"].get<std::string>();
        for (const char *key : {"max_model_len", "context_length", "context_window"}) {
            if (m.contains(key) && m[key].is_number_integer()) {
                model.contextLength = m[key].get<int>();
                break;
            }
        }
        models.push_back(std::move(model));
    }
    return models;
}

Result<void> RemoteBackend::load(const ModelSpec &spec, const LoadProgressFn &progress)
{
    m_loaded = false;
    if (m_config.baseUrl.empty())
        return unexpected(makeError(Error::Kind::InvalidArgument, "no server URL is configured"));
    {
        CURLU *u = curl_url();
        const CURLUcode rc = curl_url_set(u, CURLUPART_URL, m_config.baseUrl.c_str(), 0);
        char *scheme = nullptr;
        if (rc == CURLUE_OK)
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
        const std::string s = scheme ? lower(scheme) : std::string();
        curl_free(scheme);
        curl_url_cleanup(u);
        if (rc != CURLUE_OK || (s != "http" && s != "https"))
            return unexpected(makeError(Error::Kind::InvalidArgument,
                                        "the server URL '" + displayUrl()
                                            + "' is not an http:// or https:// URL"));
    }
    m_caBlob.clear();
    if (!m_config.caBundlePath.empty()) {
        std::string extra;
        if (!readFile(m_config.caBundlePath, extra) || extra.empty())
            return unexpected(
                makeError(Error::Kind::Io,
                          "cannot read the CA bundle '" + m_config.caBundlePath + "'"));
        if (extra.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
            return unexpected(makeError(Error::Kind::Format,
                                        "the CA bundle '" + m_config.caBundlePath
                                            + "' contains no PEM certificate"));
        // CURLOPT_CAINFO would replace the system store; the blob carries both.
        std::string system;
        {
#if LIBCURL_VERSION_NUM >= 0x075400 // 7.84: libcurl says where its default bundle is
            std::unique_ptr<CURL, EasyDeleter> probe(curl_easy_init());
            char *path = nullptr;
            if (probe && curl_easy_getinfo(probe.get(), CURLINFO_CAINFO, &path) == CURLE_OK && path)
                readFile(path, system);
#endif
            // Fallback: the usual places of the system bundle.
            for (const char *candidate : {"/etc/ssl/certs/ca-certificates.crt",
                                          "/etc/pki/tls/certs/ca-bundle.crt",
                                          "/etc/ssl/cert.pem"}) {
                if (!system.empty())
                    break;
                readFile(candidate, system);
            }
        }
        m_caBlob = system + "\n" + extra + "\n";
    }
    if (!m_config.verifyTls)
        logWarning(kComponent, scrubSecrets("TLS certificate checks are OFF for " + displayUrl()));

    auto models = listModels(progress);
    if (!models) {
        if (models.error().kind == Error::Kind::Unsupported) {
            // No /v1/models (some gateways): the server answered, so it is reachable.
            logInfo(kComponent, scrubSecrets(models.error().toString()));
            m_models.clear();
        } else {
            return unexpected(models.error());
        }
    } else {
        m_models = std::move(*models);
    }
    m_defaultModel = spec.id == "auto" ? std::string() : spec.id;
    if (!m_defaultModel.empty() && !m_models.empty()) {
        const bool listed = std::any_of(m_models.begin(), m_models.end(), [&](const RemoteModel &m) {
            return m.id == m_defaultModel;
        });
        if (!listed) {
            std::string ids;
            for (const RemoteModel &m : m_models)
                ids += (ids.empty() ? "" : ", ") + m.id;
            return unexpected(makeError(Error::Kind::InvalidArgument,
                                        "the server does not serve the model '" + m_defaultModel
                                            + "'; it lists: " + ids));
        }
    }
    if (m_defaultModel.empty() && !m_models.empty())
        m_defaultModel = m_models.front().id;
    if (!m_multi) {
        m_multi = std::make_unique<Multi>();
        if (!m_multi->handle)
            return unexpected(
                makeError(Error::Kind::Internal, "libcurl could not create a multi handle"));
    }
    m_loaded = true;
    return {};
}

void RemoteBackend::unload()
{
    for (auto &t : m_transfers) {
        if (t->done)
            continue;
        removeFromMulti(*t);
        reportFinished(*t, FinishReason::Cancelled);
    }
    m_transfers.clear();
    m_loaded = false;
}

Result<std::string> RemoteBackend::requestBody(const GenerationRequest &request) const
{
    json body;
    std::string model = request.model;
    if (model.empty() || model == "auto")
        model = m_defaultModel;
    if (model.empty())
        return unexpected(makeError(
            Error::Kind::InvalidArgument,
            "no model id to request (the server listed none and the request names none)"));
    body["model"] = model;

    // Reasoning of assistant turns before the last user turn is dropped, as the V4 encoder does
    // (drop_thinking); turns after it (a tool-call loop in thinking mode) keep it, which the
    // DeepSeek API requires there and rejects elsewhere.
    std::size_t lastUser = 0;
    for (std::size_t i = 0; i < request.messages.size(); ++i)
        if (request.messages[i].role == chat::Role::User)
            lastUser = i;

    json messages = json::array();
    json tools = json::array();
    json responseFormat;
    for (std::size_t i = 0; i < request.messages.size(); ++i) {
        const chat::Message &m = request.messages[i];
        json msg;
        msg["role"] = roleName(m.role);
        msg["content"] = m.content;
        if (m.role == chat::Role::Assistant) {
            if (!m.reasoningContent.empty() && i > lastUser
                && request.thinkingMode == chat::ThinkingMode::Thinking)
                msg["reasoning_content"] = m.reasoningContent;
            if (!m.toolCalls.empty()) {
                json calls = json::array();
                for (const chat::ToolCall &c : m.toolCalls)
                    calls.push_back(
                        {{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", c.argumentsJson}}}});
                msg["tool_calls"] = std::move(calls);
            }
        }
        if (m.role == chat::Role::Tool)
            msg["tool_call_id"] = m.toolCallId;
        if (!m.toolsJson.empty()) {
            const json parsed = json::parse(m.toolsJson, nullptr, false);
            if (parsed.is_discarded() || !parsed.is_array())
                return unexpected(makeError(Error::Kind::InvalidArgument,
                                            "message " + std::to_string(i)
                                                + ": the tool schemas are not a JSON array"));
            for (const json &tool : parsed) {
                // Accept bare function schemas as well as {"type": "function", "function": {...}}.
                if (tool.is_object() && tool.contains("type"))
                    tools.push_back(tool);
                else
                    tools.push_back({{"type", "function"}, {"function", tool}});
            }
        }
        if (!m.responseFormatJson.empty()) {
            responseFormat = json::parse(m.responseFormatJson, nullptr, false);
            if (responseFormat.is_discarded() || !responseFormat.is_object())
                return unexpected(makeError(Error::Kind::InvalidArgument,
                                            "message " + std::to_string(i)
                                                + ": response_format is not a JSON object"));
        }
        messages.push_back(std::move(msg));
    }
    body["messages"] = std::move(messages);
    if (!tools.empty())
        body["tools"] = std::move(tools);
    if (responseFormat.is_object())
        body["response_format"] = std::move(responseFormat);

    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    body["temperature"] = plainNumber(request.sampling.temperature);
    body["top_p"] = plainNumber(request.sampling.topP);
    if (request.maxTokens > 0)
        body["max_tokens"] = request.maxTokens;
    if (request.sampling.seed != 0)
        body["seed"] = request.sampling.seed;

    const bool thinking = request.thinkingMode == chat::ThinkingMode::Thinking;
    const char *effort = nullptr;
    if (thinking && request.reasoningEffort == chat::ReasoningEffort::High)
        effort = "high";
    else if (thinking && request.reasoningEffort == chat::ReasoningEffort::Max)
        effort = "max";
    if (effectiveDialect() == RemoteDialect::DeepSeekApi) {
        body["thinking"] = {{"type", thinking ? "enabled" : "disabled"}};
        if (effort)
            body["reasoning_effort"] = effort;
    } else {
        // vLLM maps "none" to chat mode; both vLLM and SGLang pass chat_template_kwargs to the
        // chat template, which the DeepSeek templates read as the thinking switch.
        if (!thinking)
            body["reasoning_effort"] = "none";
        else if (effort)
            body["reasoning_effort"] = effort;
        body["chat_template_kwargs"] = {{"thinking", thinking}};
        // Sampling extensions the OpenAI API lacks; only sent when set.
        if (request.sampling.topK > 0)
            body["top_k"] = request.sampling.topK;
        if (request.sampling.minP > 0.0f)
            body["min_p"] = plainNumber(request.sampling.minP);
    }
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<void> RemoteBackend::submit(GenerationRequest request, TokenSink &sink)
{
    if (!m_loaded || !m_multi)
        return unexpected(makeError(Error::Kind::Unavailable, "the remote backend is not loaded"));
    if (std::any_of(m_transfers.begin(), m_transfers.end(), [&](const auto &t) {
            return t->id == request.id && !t->done;
        }))
        return unexpected(
            makeError(Error::Kind::InvalidArgument,
                      "request " + std::to_string(request.id) + " is already running"));
    auto body = requestBody(request);
    if (!body)
        return unexpected(body.error());

    auto t = std::make_unique<Transfer>();
    t->owner = this;
    t->id = request.id;
    t->sink = &sink;
    t->body = std::move(*body);
    t->requestedModel = request.model.empty() || request.model == "auto" ? m_defaultModel
                                                                         : request.model;
    t->url = endpointUrl("/chat/completions");
    t->submitted = Clock::now();
    t->easy.reset(curl_easy_init());
    if (!t->easy)
        return unexpected(makeError(Error::Kind::Internal, "libcurl could not create a handle"));
    if (auto r = applyCommonOptions(t->easy.get(), t->errorBuffer); !r)
        return unexpected(makeError(r.error().kind, r.error().message));

    curl_slist *list = nullptr;
    list = curl_slist_append(list, "Content-Type: application/json");
    list = curl_slist_append(list, "Accept: text/event-stream");
    list = curl_slist_append(list, "Expect:"); // no 100-continue round trip
    if (!m_config.apiKey.empty())
        list = curl_slist_append(list, ("Authorization: Bearer " + m_config.apiKey).c_str());
    t->headers.reset(list);

    CURL *easy = t->easy.get();
    curl_easy_setopt(easy, CURLOPT_URL, t->url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers.get());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::onWrite);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::onHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
    if (m_config.requestTimeoutMs > 0)
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(m_config.requestTimeoutMs));

    if (auto r = startTransfer(*t); !r)
        return r;
    m_transfers.push_back(std::move(t));
    return {};
}

Result<void> RemoteBackend::startTransfer(Transfer &t)
{
    t.resetForAttempt();
    t.retryAt.reset();
    ++t.attempt;
    const CURLMcode rc = curl_multi_add_handle(m_multi->handle, t.easy.get());
    if (rc != CURLM_OK)
        return unexpected(makeError(Error::Kind::Internal,
                                    std::string("libcurl could not start the request: ")
                                        + curl_multi_strerror(rc)));
    t.inMulti = true;
    return {};
}

void RemoteBackend::removeFromMulti(Transfer &t)
{
    if (t.inMulti && m_multi) {
        // Removing an unfinished transfer closes its connection (HTTP/1.1) or resets its stream
        // (HTTP/2): that is how the server learns the answer is no longer wanted.
        curl_multi_remove_handle(m_multi->handle, t.easy.get());
        t.inMulti = false;
    }
}

void RemoteBackend::cancel(RequestId id)
{
    for (auto &t : m_transfers)
        if (t->id == id && !t->done)
            t->cancelRequested = true;
}

void RemoteBackend::deliverPending(Transfer &t)
{
    if (t.pendingReasoning.empty() && t.pendingContent.empty())
        return;
    if (!t.firstText)
        t.firstText = Clock::now();
    std::string reasoning = std::move(t.pendingReasoning);
    std::string content = std::move(t.pendingContent);
    t.pendingReasoning.clear();
    t.pendingContent.clear();
    t.deliveredBytes += reasoning.size() + content.size();
    t.sink->onText(t.id, reasoning, content);
}

void RemoteBackend::reportError(Transfer &t, Error error)
{
    t.done = true;
    error.message = scrubSecrets(std::move(error.message));
    error.where = scrubSecrets(std::move(error.where));
    logWarning(kComponent, "request " + std::to_string(t.id) + ": " + error.toString());
    t.sink->onError(t.id, error);
}

void RemoteBackend::reportFinished(Transfer &t, FinishReason reason)
{
    t.done = true;
    GenerationStats stats;
    if (const auto &u = t.decoder.usage()) {
        stats.promptTokens = u->promptTokens;
        stats.completionTokens = u->completionTokens;
        stats.cachedPromptTokens = u->cachedPromptTokens;
    }
    stats.model = t.decoder.model().empty() ? t.requestedModel : t.decoder.model();
    const auto now = Clock::now();
    if (t.firstText) {
        stats.timeToFirstTokenMs = msBetween(t.submitted, *t.firstText);
        const double decodeMs = msBetween(*t.firstText, now);
        if (decodeMs > 0 && stats.completionTokens > 1)
            stats.decodeTokensPerSecond = (stats.completionTokens - 1) * 1000.0 / decodeMs;
    }
    t.sink->onFinished(t.id, reason, stats);
}

void RemoteBackend::finishTransfer(Transfer &t, int curlCodeInt)
{
    const CURLcode code = static_cast<CURLcode>(curlCodeInt);
    const bool maySent = requestMayHaveBeenSent(t.easy.get());
    removeFromMulti(t);
    if (t.httpStatus == 0)
        curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &t.httpStatus);

    if (t.cancelRequested) {
        deliverPending(t);
        reportFinished(t, FinishReason::Cancelled);
        return;
    }

    if (t.mode == Transfer::Mode::ErrorBody
        || (code == CURLE_OK && (t.httpStatus < 200 || t.httpStatus >= 300))) {
        std::string message = "the server answered HTTP " + std::to_string(t.httpStatus) + " ("
                              + httpReason(t.httpStatus) + ")";
        if (const std::string detail = errorMessageFromBody(t.rawBody); !detail.empty())
            message += ": " + detail;
        if (t.httpStatus == 429 && !t.retryAfter.empty())
            message += " (retry after " + t.retryAfter + " s)";
        reportError(t, makeError(kindForStatus(t.httpStatus), message));
        return;
    }

    if (code != CURLE_OK && !t.streamError) {
        const std::string detail = curlMessage(code, t.errorBuffer);
        if (isConnectFailure(code) && !maySent) {
            t.lastConnectError = detail;
            if (t.attempt <= m_config.connectRetries) {
                const int delay = std::max(0, m_config.retryDelayMs) << std::min(t.attempt - 1, 10);
                t.retryAt = Clock::now() + std::chrono::milliseconds(delay);
                logInfo(kComponent,
                        scrubSecrets("request " + std::to_string(t.id) + ": could not connect to "
                                     + displayUrl() + " (" + detail + "), trying again in "
                                     + std::to_string(delay) + " ms"));
                return;
            }
            reportError(t,
                        makeError(Error::Kind::Network,
                                  "could not connect to " + displayUrl() + " after "
                                      + std::to_string(t.attempt) + " attempt(s): " + detail));
            return;
        }
        deliverPending(t);
        std::string message;
        if (code == CURLE_OPERATION_TIMEDOUT && t.deliveredBytes > 0)
            message = "the server stopped sending mid-answer (time-out): " + detail;
        else if (code == CURLE_GOT_NOTHING)
            message = "the server closed the connection without answering (" + detail
                      + "); not retried, since it may have received the request";
        else if (t.deliveredBytes > 0 || t.mode != Transfer::Mode::Unknown)
            message = "the connection to " + displayUrl() + " was lost mid-answer: " + detail;
        else
            message = "the request to " + displayUrl() + " failed: " + detail;
        if (t.deliveredBytes > 0)
            message += " (the partial answer is kept)";
        reportError(t, makeError(Error::Kind::Network, message));
        return;
    }

    if (t.mode == Transfer::Mode::Json) {
        auto delta = t.decoder.decodeCompletion(t.rawBody);
        if (!delta) {
            reportError(t, makeError(delta.error().kind, delta.error().message));
            return;
        }
        t.pendingReasoning += delta->reasoning;
        t.pendingContent += delta->content;
        t.finishReason = delta->finishReason;
        t.rawFinishReason = delta->rawFinishReason;
    }

    deliverPending(t);
    if (t.streamError) {
        Error e = *t.streamError;
        if (t.deliveredBytes > 0)
            e.message += " (the partial answer is kept)";
        reportError(t, makeError(e.kind, e.message));
        return;
    }
    const bool cutMidEvent = t.mode == Transfer::Mode::Stream && !t.sawDone && !t.parser.finish();
    if (!t.sawDone && !t.finishReason) {
        std::string message
            = t.mode == Transfer::Mode::Unknown
                  ? "the server closed the connection without answering"
              : cutMidEvent
                  ? "the server's stream was cut off mid-event before the answer was complete"
                  : "the server ended the stream before the answer was complete";
        if (t.deliveredBytes > 0)
            message += " (the partial answer is kept)";
        reportError(t, makeError(Error::Kind::Network, message));
        return;
    }
    if (t.decoder.hasToolCalls())
        t.sink->onToolCalls(t.id, t.decoder.toolCalls());
    FinishReason reason = t.finishReason.value_or(FinishReason::Stop);
    if (reason == FinishReason::Stop && t.decoder.hasToolCalls())
        reason = FinishReason::ToolCalls;
    reportFinished(t, reason);
}

void RemoteBackend::cleanupDone()
{
    m_transfers.erase(std::remove_if(m_transfers.begin(),
                                     m_transfers.end(),
                                     [this](std::unique_ptr<Transfer> &t) {
                                         if (!t->done)
                                             return false;
                                         removeFromMulti(*t);
                                         return true;
                                     }),
                      m_transfers.end());
}

bool RemoteBackend::step()
{
    if (!m_multi || m_transfers.empty())
        return false;

    const auto now = Clock::now();
    // Transfers are addressed by index: a sink may submit() from inside a callback.
    for (std::size_t i = 0; i < m_transfers.size(); ++i) {
        Transfer &t = *m_transfers[i];
        if (t.done)
            continue;
        if (t.cancelRequested) {
            removeFromMulti(t);
            deliverPending(t);
            reportFinished(t, FinishReason::Cancelled);
            continue;
        }
        if (t.retryAt && *t.retryAt <= now) {
            if (auto r = startTransfer(t); !r)
                reportError(t, r.error());
        }
    }

    auto perform = [this] {
        int running = 0;
        curl_multi_perform(m_multi->handle, &running);
        int queued = 0;
        while (CURLMsg *msg = curl_multi_info_read(m_multi->handle, &queued)) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            Transfer *t = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
            if (t && !t->done)
                finishTransfer(*t, msg->data.result);
        }
        bool delivered = false;
        for (std::size_t i = 0; i < m_transfers.size(); ++i) {
            Transfer &t = *m_transfers[i];
            if (t.done || !t.inMulti)
                continue;
            if (!t.pendingReasoning.empty() || !t.pendingContent.empty()) {
                deliverPending(t);
                delivered = true;
            }
            // [DONE] or an in-stream error ends the answer even if the server keeps the
            // connection open.
            if (!t.done && t.sawDone && !t.cancelRequested)
                finishTransfer(t, CURLE_OK);
        }
        return delivered;
    };

    bool delivered = perform();
    bool anyActive = std::any_of(m_transfers.begin(), m_transfers.end(), [](const auto &t) {
        return !t->done && t->inMulti;
    });
    if (!delivered && m_config.stepWaitMs > 0) {
        int waitMs = m_config.stepWaitMs;
        for (const auto &t : m_transfers) {
            if (!t->done && t->retryAt) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    *t->retryAt - Clock::now());
                waitMs = std::clamp(static_cast<int>(left.count()), 0, waitMs);
            }
        }
        if (anyActive) {
            int fds = 0;
            curl_multi_poll(m_multi->handle, nullptr, 0, waitMs, &fds);
            perform();
        } else if (waitMs > 0) {
            // Only retries are waiting: sleep briefly instead of spinning the engine thread.
            std::this_thread::sleep_for(std::chrono::milliseconds(waitMs));
        }
    }
    cleanupDone();
    return !m_transfers.empty();
}

} // namespace fathom::engine::remote
