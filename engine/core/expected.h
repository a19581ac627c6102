// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  A minimal std::expected<T, E> for C++20.

  ARCHITECTURE.md asks for Result<T> = std::expected<T, Error>. The engine and kernels must build
  on the GPU machine with "only CMake, a C++20 compiler, CUDA and NCCL", and nvcc's host
  compilers do not all ship <expected>, so the engine carries this small subset with the same
  spelling: has_value(), operator bool, value(), error(), operator*, operator->, value_or(),
  and construction from fathom::Unexpected (spelled fathom::unexpected(e), as std::unexpected).
  Moving to std::expected later is a search-and-replace.
*/

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace fathom {

template<typename E>
class Unexpected
{
public:
    explicit Unexpected(E error)
        : m_error(std::move(error))
    {}
    E &error() & { return m_error; }
    E &&error() && { return std::move(m_error); }
    const E &error() const & { return m_error; }

private:
    E m_error;
};

template<typename E>
Unexpected<std::decay_t<E>> unexpected(E &&error)
{
    return Unexpected<std::decay_t<E>>(std::forward<E>(error));
}

template<typename T, typename E>
class [[nodiscard]] Expected
{
public:
    using value_type = T;
    using error_type = E;

    Expected()
        requires std::is_default_constructible_v<T>
        : m_storage(std::in_place_index<0>)
    {}
    template<typename U = T>
        requires(std::is_constructible_v<T, U &&>
                 && !std::is_same_v<std::decay_t<U>, Expected>
                 && !std::is_same_v<std::decay_t<U>, Unexpected<E>>)
    Expected(U &&value)
        : m_storage(std::in_place_index<0>, std::forward<U>(value))
    {}
    template<typename G>
        requires std::is_constructible_v<E, const G &>
    Expected(const Unexpected<G> &u)
        : m_storage(std::in_place_index<1>, u.error())
    {}
    template<typename G>
        requires std::is_constructible_v<E, G &&>
    Expected(Unexpected<G> &&u)
        : m_storage(std::in_place_index<1>, std::move(u).error())
    {}

    bool has_value() const noexcept { return m_storage.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T &value() & { return *std::get_if<0>(&m_storage); }
    const T &value() const & { return *std::get_if<0>(&m_storage); }
    T &&value() && { return std::move(*std::get_if<0>(&m_storage)); }

    E &error() & { return *std::get_if<1>(&m_storage); }
    const E &error() const & { return *std::get_if<1>(&m_storage); }
    E &&error() && { return std::move(*std::get_if<1>(&m_storage)); }

    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T &&operator*() && { return std::move(*std::get_if<0>(&m_storage)); }
    T *operator->() { return std::get_if<0>(&m_storage); }
    const T *operator->() const { return std::get_if<0>(&m_storage); }

    template<typename U>
    T value_or(U &&fallback) const &
    {
        return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

private:
    std::variant<T, E> m_storage;
};

template<typename E>
class [[nodiscard]] Expected<void, E>
{
public:
    using value_type = void;
    using error_type = E;

    Expected() = default;
    template<typename G>
        requires std::is_constructible_v<E, const G &>
    Expected(const Unexpected<G> &u)
        : m_error(u.error())
    {}
    template<typename G>
        requires std::is_constructible_v<E, G &&>
    Expected(Unexpected<G> &&u)
        : m_error(std::move(u).error())
    {}

    bool has_value() const noexcept { return !m_error.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {}

    E &error() & { return *m_error; }
    const E &error() const & { return *m_error; }
    E &&error() && { return std::move(*m_error); }

private:
    std::optional<E> m_error;
};

} // namespace fathom

// Propagates the error of a Result-returning expression out of the enclosing function.
#define FATHOM_TRY(expr) \
    do { \
        if (auto fathomTryResult_ = (expr); !fathomTryResult_) \
            return ::fathom::unexpected(std::move(fathomTryResult_).error()); \
    } while (false)

#define FATHOM_TRY_CONCAT_INNER(a, b) a##b
#define FATHOM_TRY_CONCAT(a, b) FATHOM_TRY_CONCAT_INNER(a, b)

// `FATHOM_TRY_ASSIGN(auto x, makeX());` declares x from the value or returns the error.
#define FATHOM_TRY_ASSIGN(decl, expr) \
    FATHOM_TRY_ASSIGN_IMPL(FATHOM_TRY_CONCAT(fathomTryTmp_, __LINE__), decl, expr)
#define FATHOM_TRY_ASSIGN_IMPL(tmp, decl, expr) \
    auto tmp = (expr); \
    if (!tmp) \
        return ::fathom::unexpected(std::move(tmp).error()); \
    decl = std::move(tmp).value()
