// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <set>

namespace fathom::engine {

namespace fs = std::filesystem;

namespace {

struct DTypeInfo
{
    DType dtype;
    const char *name;
    size_t size;
};

constexpr DTypeInfo k_dtypes[] = {
    {DType::Bf16, "BF16", 2},
    {DType::F16, "F16", 2},
    {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},
    {DType::F8E4M3, "F8_E4M3", 1},
    {DType::F8E8M0, "F8_E8M0", 1},
    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},
    {DType::I16, "I16", 2},
    {DType::I32, "I32", 4},
    {DType::I64, "I64", 8},
    {DType::Bool, "BOOL", 1},
};

Error formatError(const std::string &file, const std::string &what)
{
    return Error(Error::Kind::Format, file + ": " + what);
}

} // namespace

size_t dtypeSize(DType dtype)
{
    for (const DTypeInfo &d : k_dtypes)
        if (d.dtype == dtype)
            return d.size;
    return 0;
}

const char *dtypeName(DType dtype)
{
    for (const DTypeInfo &d : k_dtypes)
        if (d.dtype == dtype)
            return d.name;
    return "?";
}

std::optional<DType> dtypeFromName(std::string_view name)
{
    for (const DTypeInfo &d : k_dtypes)
        if (name == d.name)
            return d.dtype;
    return std::nullopt;
}

int64_t TensorView::numel() const
{
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

std::string TensorView::shapeString() const
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i)
            s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// ---- SafetensorsFile ----------------------------------------------------------------------------

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string &path)
{
    auto f = std::unique_ptr<SafetensorsFile>(new SafetensorsFile);
    FATHOM_TRY_ASSIGN(f->m_file, MappedFile::open(path));
    const size_t size = f->m_file.size();
    const uint8_t *data = f->m_file.data();
    if (size < 8)
        return unexpected(formatError(path,
                                      "file too small for a safetensors header ("
                                          + std::to_string(size) + " bytes)"));
    uint64_t headerLen = 0;
    for (int i = 7; i >= 0; --i)
        headerLen = (headerLen << 8) | data[i];
    if (headerLen > size - 8)
        return unexpected(formatError(path,
                                      "header length " + std::to_string(headerLen)
                                          + " runs past the end of the file (" + std::to_string(size)
                                          + " bytes): truncated or not a safetensors file"));
    f->m_dataOffset = 8 + static_cast<size_t>(headerLen);
    const size_t dataSize = size - f->m_dataOffset;

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(reinterpret_cast<const char *>(data + 8),
                                       reinterpret_cast<const char *>(data + 8 + headerLen));
    } catch (const nlohmann::json::exception &e) {
        return unexpected(formatError(path, std::string("malformed JSON header: ") + e.what()));
    }
    if (!header.is_object())
        return unexpected(formatError(path, "the header is not a JSON object"));

    struct Range
    {
        uint64_t begin, end;
        size_t index;
    };
    std::vector<Range> ranges;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string &name = it.key();
        if (name == "__metadata__") {
            if (!it->is_object())
                return unexpected(formatError(path, "__metadata__ is not an object"));
            for (auto m = it->begin(); m != it->end(); ++m)
                f->m_metadata[m.key()] = m->is_string() ? m->get<std::string>() : m->dump();
            continue;
        }
        const auto bad = [&](const std::string &what) {
            return unexpected(formatError(path, "tensor '" + name + "': " + what));
        };
        const nlohmann::json &e = *it;
        if (!e.is_object())
            return bad("entry is not an object");
        if (!e.contains("dtype") || !e["dtype"].is_string())
            return bad("missing dtype");
        const auto dtype = dtypeFromName(e["dtype"].get<std::string>());
        if (!dtype)
            return bad("unknown dtype " + e["dtype"].get<std::string>());
        if (!e.contains("shape") || !e["shape"].is_array())
            return bad("missing shape");
        if (!e.contains("data_offsets") || !e["data_offsets"].is_array()
            || e["data_offsets"].size() != 2 || !e["data_offsets"][0].is_number_unsigned()
            || !e["data_offsets"][1].is_number_unsigned())
            return bad("data_offsets must be two non-negative integers");
        TensorView v;
        v.name = name;
        v.dtype = *dtype;
        v.file = path;
        uint64_t numel = 1;
        for (const nlohmann::json &d : e["shape"]) {
            if (!d.is_number_unsigned())
                return bad("shape " + e["shape"].dump()
                           + " has a negative or non-integer dimension");
            const uint64_t dim = d.get<uint64_t>();
            if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 2 / dim)
                return bad("shape " + e["shape"].dump() + " is too large");
            numel *= dim;
            v.shape.push_back(static_cast<int64_t>(dim));
        }
        const uint64_t begin = e["data_offsets"][0].get<uint64_t>();
        const uint64_t end = e["data_offsets"][1].get<uint64_t>();
        if (begin > end)
            return bad("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end)
                       + "] are reversed");
        if (end > dataSize)
            return bad("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end)
                       + "] lie beyond the end of the file (data area " + std::to_string(dataSize)
                       + " bytes): truncated file or corrupt header");
        const uint64_t expected = numel * dtypeSize(*dtype);
        if (end - begin != expected)
            return bad("holds " + std::to_string(end - begin) + " bytes but shape " + v.shapeString()
                       + " of " + dtypeName(*dtype) + " needs " + std::to_string(expected));
        v.data = data + f->m_dataOffset + begin;
        v.bytes = static_cast<size_t>(end - begin);
        ranges.push_back({begin, end, f->m_tensors.size()});
        f->m_tensors.push_back(std::move(v));
    }
    std::sort(ranges.begin(), ranges.end(), [](const Range &a, const Range &b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const Range *prev = nullptr;
    for (const Range &r : ranges) {
        if (r.begin == r.end)
            continue;
        if (prev && r.begin < prev->end)
            return unexpected(
                formatError(path,
                            "tensor '" + f->m_tensors[r.index].name + "' overlaps tensor '"
                                + f->m_tensors[prev->index].name + "' (bytes "
                                + std::to_string(r.begin) + ".." + std::to_string(prev->end) + ")"));
        prev = &r;
    }
    std::sort(f->m_tensors.begin(),
              f->m_tensors.end(),
              [](const TensorView &a, const TensorView &b) { return a.name < b.name; });
    for (size_t i = 0; i < f->m_tensors.size(); ++i)
        f->m_byName.emplace(f->m_tensors[i].name, i);
    return f;
}

const TensorView *SafetensorsFile::find(std::string_view name) const
{
    const auto it = m_byName.find(name);
    return it == m_byName.end() ? nullptr : &m_tensors[it->second];
}

// ---- TensorStore --------------------------------------------------------------------------------

Result<std::unique_ptr<TensorStore>> TensorStore::open(const std::string &path,
                                                       const LoadProgressFn &progress)
{
    auto store = std::unique_ptr<TensorStore>(new TensorStore);
    std::error_code ec;
    const fs::path root = utf8ToPath(path);
    std::vector<fs::path> files;
    std::map<std::string, std::string> weightMap; // tensor -> file name (index only)
    fs::path indexPath;
    if (fs::is_regular_file(root, ec)) {
        files.push_back(root);
    } else if (fs::is_directory(root, ec)) {
        indexPath = root / "model.safetensors.index.json";
        if (fs::exists(indexPath, ec)) {
            const std::string ip = pathToUtf8(indexPath);
            FATHOM_TRY_ASSIGN(MappedFile indexFile, MappedFile::open(ip));
            nlohmann::json index;
            try {
                index = nlohmann::json::parse(reinterpret_cast<const char *>(indexFile.data()),
                                              reinterpret_cast<const char *>(indexFile.data())
                                                  + indexFile.size());
            } catch (const nlohmann::json::exception &e) {
                return fail(Error::Kind::Format, ip + ": malformed JSON: " + e.what());
            }
            if (!index.is_object() || !index.contains("weight_map")
                || !index["weight_map"].is_object())
                return fail(Error::Kind::Format, ip + ": no weight_map object");
            std::set<std::string> names;
            for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
                if (!it->is_string())
                    return fail(Error::Kind::Format,
                                ip + ": weight_map entry '" + it.key() + "' is not a file name");
                const std::string file = it->get<std::string>();
                if (file.find('/') != std::string::npos || file.find('\\') != std::string::npos
                    || file == ".." || file.empty())
                    return fail(Error::Kind::Format,
                                ip + ": weight_map entry '" + it.key()
                                    + "' names a file outside the folder: " + file);
                weightMap[it.key()] = file;
                names.insert(file);
            }
            for (const std::string &n : names)
                files.push_back(root / utf8ToPath(n));
        } else {
            indexPath.clear();
            std::vector<fs::path> all, model;
            for (const auto &entry : fs::directory_iterator(root, ec)) {
                if (!entry.is_regular_file() || entry.path().extension() != ".safetensors")
                    continue;
                all.push_back(entry.path());
                if (pathToUtf8(entry.path().filename()).rfind("model", 0) == 0)
                    model.push_back(entry.path());
            }
            files = model.empty() ? all : model;
            std::sort(files.begin(), files.end());
            if (files.empty())
                return fail(Error::Kind::Io,
                            path + ": no model.safetensors.index.json and no .safetensors files");
        }
    } else {
        return fail(Error::Kind::Io, path + ": no such file or folder");
    }

    uint64_t total = 0;
    for (const fs::path &p : files) {
        const uint64_t s = fs::file_size(p, ec);
        if (ec)
            return fail(Error::Kind::Io,
                        pathToUtf8(p) + ": " + ec.message()
                            + (indexPath.empty() ? ""
                                                 : " (named in " + pathToUtf8(indexPath) + ")"));
        total += s;
    }
    uint64_t done = 0;
    if (progress && !progress(LoadProgress{0, total, "mapping weights"}))
        return fail(Error::Kind::Cancelled, "loading cancelled");
    for (const fs::path &p : files) {
        FATHOM_TRY_ASSIGN(auto file, SafetensorsFile::open(pathToUtf8(p)));
        done += file->fileSize();
        store->m_files.push_back(std::move(file));
        if (progress && !progress(LoadProgress{done, total, "mapping weights"}))
            return fail(Error::Kind::Cancelled, "loading cancelled");
    }

    for (const auto &file : store->m_files) {
        const std::string fileName = pathToUtf8(utf8ToPath(file->path()).filename());
        for (const TensorView &v : file->tensors()) {
            if (!weightMap.empty()) {
                const auto it = weightMap.find(v.name);
                if (it == weightMap.end())
                    return fail(Error::Kind::Format,
                                file->path() + ": tensor '" + v.name + "' is not listed in "
                                    + pathToUtf8(indexPath));
                if (it->second != fileName)
                    return fail(Error::Kind::Format,
                                file->path() + ": tensor '" + v.name + "' is listed in "
                                    + pathToUtf8(indexPath) + " as being in " + it->second);
            }
            if (!store->m_byName.emplace(v.name, &v).second)
                return fail(Error::Kind::Format,
                            file->path() + ": tensor '" + v.name + "' also exists in "
                                + store->m_byName[v.name]->file);
            store->m_totalBytes += v.bytes;
        }
    }
    for (const auto &[name, file] : weightMap) {
        if (!store->m_byName.count(name))
            return fail(Error::Kind::Format,
                        pathToUtf8(root / utf8ToPath(file)) + ": tensor '" + name + "' listed in "
                            + pathToUtf8(indexPath) + " is missing from the file");
    }
    for (const auto &[name, view] : store->m_byName)
        store->m_all.push_back(view);
    std::sort(store->m_all.begin(),
              store->m_all.end(),
              [](const TensorView *a, const TensorView *b) { return a->name < b->name; });
    return store;
}

const TensorView *TensorStore::find(std::string_view name) const
{
    const auto it = m_byName.find(name);
    return it == m_byName.end() ? nullptr : it->second;
}

void TensorStore::addOwned(std::vector<std::pair<TensorView, std::vector<uint8_t>>> tensors)
{
    for (auto &[view, data] : tensors) {
        auto buffer = std::make_unique<std::vector<uint8_t>>(std::move(data));
        view.data = buffer->data();
        view.bytes = buffer->size();
        m_ownedData.push_back(std::move(buffer));
        insert(std::move(view));
    }
    sortNames();
}

void TensorStore::addViews(std::vector<TensorView> views, std::unique_ptr<TensorStore> owner)
{
    if (owner)
        m_kept.push_back(std::move(owner));
    for (TensorView &v : views)
        insert(std::move(v));
    sortNames();
}

const TensorView &TensorStore::insert(TensorView view)
{
    const std::string name = view.name;
    if (const TensorView *old = find(name)) {
        m_totalBytes -= old->bytes;
        m_byName.erase(name);
    }
    auto [it, inserted] = m_owned.insert_or_assign(name, std::move(view));
    m_byName.emplace(it->second.name, &it->second);
    m_totalBytes += it->second.bytes;
    return it->second;
}

void TensorStore::sortNames()
{
    m_all.clear();
    for (const auto &[n, v] : m_byName)
        m_all.push_back(v);
    std::sort(m_all.begin(), m_all.end(), [](const TensorView *a, const TensorView *b) {
        return a->name < b->name;
    });
}

} // namespace fathom::engine
