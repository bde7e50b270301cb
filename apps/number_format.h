// Numbers in bitlane's text outputs, written without printf.
#pragma once

#include <charconv>
#include <string>

namespace bitlane::cli {

// Appends v exactly as printf's "%.6f" writes it (the C locale): to_chars
// parses no format string and reads no locale (snprintf was a twentieth of
// classifying a folder with a small model).
inline void append_fixed6(std::string& out, double v) {
  char buf[400];  // the largest double: 309 digits, a sign, a point, 6 decimals
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, 6);
  out.append(buf, r.ptr);
}

}  // namespace bitlane::cli
