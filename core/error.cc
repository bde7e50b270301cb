#include "core/error.h"

#include <utility>

namespace bitlane {

static std::string compose(const std::string& where, const std::string& reason) {
  return where.empty() ? reason : where + ": " + reason;
}

Error::Error(std::string where, std::string reason)
    : std::runtime_error(compose(where, reason)),
      where_(std::move(where)),
      reason_(std::move(reason)) {}

void fail(const std::string& where, const std::string& reason) {
  throw Error(where, reason);
}

}  // namespace bitlane
