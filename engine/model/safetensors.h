// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Memory-mapped safetensors (testdata/README.md §1.2; v4-model-spec.md §6): 8-byte little-endian
  header length, JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"},
  then the raw little-endian data. Tensors are views into the mapping; nothing is copied.

  SafetensorsFile::open validates every header entry and fails (Kind::Format, message naming the
  file and the tensor) on: a header length beyond the file, malformed JSON, an unknown dtype,
  a negative or non-integer dimension, data_offsets not [begin <= end] inside the data area,
  end - begin != product(shape) * dtype size, overlapping tensors.

  TensorStore::open takes a model folder (or one .safetensors file): with
  model.safetensors.index.json it maps every shard named in weight_map and checks that each
  tensor sits in the shard the index says (a name in the index missing from its shard, or a
  tensor present in two shards, is an error); without an index it maps every *.safetensors file
  of the folder. Per-config checks (names present, shapes right) are in modelweights.h.

  Thread: immutable after open; lookups are thread-safe. Views live as long as the store.
*/

#include "engine/api/backend.h" // LoadProgressFn
#include "engine/core/error.h"
#include "engine/model/mappedfile.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fathom::engine {

// NOTE: the names are the safetensors dtype strings (dtypeName / dtypeFromName).
enum class DType {
    Bf16,   // "BF16"
    F16,    // "F16"
    F32,    // "F32"
    F64,    // "F64"
    F8E4M3, // "F8_E4M3"
    F8E8M0, // "F8_E8M0"
    I8,     // "I8" (V4: two packed e2m1 codes per byte)
    U8,     // "U8"
    I16,    // "I16"
    I32,    // "I32"
    I64,    // "I64"
    Bool,   // "BOOL"
};

size_t dtypeSize(DType dtype);
const char *dtypeName(DType dtype);
std::optional<DType> dtypeFromName(std::string_view name);

struct TensorView
{
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const void *data = nullptr; // inside the mapping (or a converted buffer owned by the store)
    size_t bytes = 0;
    std::string file; // the shard it came from (for messages)

    int64_t numel() const;
    int rank() const { return static_cast<int>(shape.size()); }
    int64_t dim(int i) const { return shape.at(static_cast<size_t>(i)); }
    template<typename T>
    const T *as() const
    {
        return static_cast<const T *>(data);
    }
    // "[a, b]"
    std::string shapeString() const;
};

class SafetensorsFile
{
public:
    static Result<std::unique_ptr<SafetensorsFile>> open(const std::string &path);

    const std::string &path() const { return m_file.path(); }
    const std::vector<TensorView> &tensors() const { return m_tensors; }
    const TensorView *find(std::string_view name) const;
    const std::map<std::string, std::string> &metadata() const { return m_metadata; }
    size_t fileSize() const { return m_file.size(); }
    size_t dataOffset() const { return m_dataOffset; } // first byte after the header
    const MappedFile &mapping() const { return m_file; }

private:
    MappedFile m_file;
    size_t m_dataOffset = 0;
    std::vector<TensorView> m_tensors;
    std::unordered_map<std::string_view, size_t> m_byName; // views into m_tensors[i].name
    std::map<std::string, std::string> m_metadata;
};

class TensorStore
{
public:
    // path: a folder (index or *.safetensors) or one .safetensors file. progress (may be empty)
    // gets stage "mapping weights" with bytes of shards mapped so far; returning false cancels
    // (Kind::Cancelled).
    static Result<std::unique_ptr<TensorStore>> open(const std::string &path,
                                                     const LoadProgressFn &progress = {});

    const TensorView *find(std::string_view name) const;                     // nullptr when absent
    const std::vector<const TensorView *> &tensors() const { return m_all; } // sorted by name
    const std::vector<std::unique_ptr<SafetensorsFile>> &files() const { return m_files; }
    uint64_t totalBytes() const { return m_totalBytes; } // sum of tensor bytes

    // Adds tensors whose data the store owns (load-time conversions, e.g. wo_a FP8 -> BF16),
    // each replacing a view of the same name; one re-sort for all. Not thread-safe; call before
    // sharing the store.
    void addOwned(std::vector<std::pair<TensorView, std::vector<uint8_t>>> tensors);
    // Adds views of data this store does not own under their names (replacing views of the
    // same names), e.g. another store's tensors under other names: `owner` (may be null) is kept
    // alive as long as this store, so views into its mappings stay valid. One re-sort for all.
    // Not thread-safe; call before sharing the store. (bench_cuda: a slice's layers repeated.)
    void addViews(std::vector<TensorView> views, std::unique_ptr<TensorStore> owner);

private:
    const TensorView &insert(TensorView view); // replaces a view of the same name; no re-sort
    void sortNames();

    std::vector<std::unique_ptr<SafetensorsFile>> m_files;
    std::unordered_map<std::string, TensorView> m_owned;
    std::vector<std::unique_ptr<std::vector<uint8_t>>> m_ownedData;
    std::vector<std::unique_ptr<TensorStore>> m_kept; // owners of addViews' data
    std::unordered_map<std::string_view, const TensorView *> m_byName;
    std::vector<const TensorView *> m_all;
    uint64_t m_totalBytes = 0;
};

} // namespace fathom::engine
