// Shape checks shared by the operators; errors name the node and show the
// shapes involved.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace bitlane::ops {

inline void expect_inputs(const std::string& where, const std::vector<Shape>& in, size_t n) {
  if (in.size() != n)
    fail(where, "expects " + std::to_string(n) + " input" + (n == 1 ? "" : "s") + ", got " +
                    std::to_string(in.size()));
}

inline void expect_rank(const std::string& where, const Shape& s, int rank, const char* what) {
  if (static_cast<int>(s.size()) != rank)
    fail(where, std::string(what) + " must have rank " + std::to_string(rank) + ", got shape " +
                    shape_str(s));
}

// Normalises a possibly negative axis of a rank-r shape.
inline int normalize_axis(const std::string& where, int64_t axis, int rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    fail(where, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(a);
}

}  // namespace bitlane::ops
