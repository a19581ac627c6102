// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

#include "pyjson.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace fathom::engine::chat {

namespace {

void appendString(std::string &out, const std::string &s)
{
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += char(c);
            }
        }
    }
    out += '"';
}

void dump(std::string &out, const nlohmann::ordered_json &v)
{
    using T = nlohmann::ordered_json::value_t;
    switch (v.type()) {
    case T::null:
    case T::discarded:
        out += "null";
        break;
    case T::boolean:
        out += v.get<bool>() ? "true" : "false";
        break;
    case T::number_integer:
        out += std::to_string(v.get<std::int64_t>());
        break;
    case T::number_unsigned:
        out += std::to_string(v.get<std::uint64_t>());
        break;
    case T::number_float:
        out += pythonFloatRepr(v.get<double>());
        break;
    case T::string:
        appendString(out, v.get_ref<const std::string &>());
        break;
    case T::array: {
        out += '[';
        bool first = true;
        for (const auto &e : v) {
            if (!first)
                out += ", ";
            first = false;
            dump(out, e);
        }
        out += ']';
        break;
    }
    case T::object: {
        out += '{';
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!first)
                out += ", ";
            first = false;
            appendString(out, it.key());
            out += ": ";
            dump(out, it.value());
        }
        out += '}';
        break;
    }
    case T::binary:
        out += "null";
        break;
    }
}

} // namespace

std::string pythonFloatRepr(double value)
{
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "Infinity" : "-Infinity";
    // Shortest round-trip digits in scientific form, then laid out the way Python's repr does.
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    std::string sign;
    if (!sci.empty() && sci[0] == '-') {
        sign = "-";
        sci.erase(0, 1);
    }
    const std::size_t e = sci.find('e');
    std::string digits = sci.substr(0, e);
    const int exp = std::atoi(sci.c_str() + e + 1);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    while (digits.size() > 1 && digits.back() == '0')
        digits.pop_back();
    const int n = int(digits.size());
    std::string out = sign;
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out += "0." + std::string(std::size_t(-exp - 1), '0') + digits;
        } else if (exp + 1 >= n) {
            out += digits + std::string(std::size_t(exp + 1 - n), '0') + ".0";
        } else {
            out += digits.substr(0, std::size_t(exp + 1)) + "."
                   + digits.substr(std::size_t(exp + 1));
        }
    } else {
        out += digits.substr(0, 1);
        if (n > 1)
            out += "." + digits.substr(1);
        char ebuf[16];
        std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        out += ebuf;
    }
    return out;
}

std::string pythonJsonDumps(const nlohmann::ordered_json &value)
{
    std::string out;
    dump(out, value);
    return out;
}

} // namespace fathom::engine::chat
