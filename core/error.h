// The one error type of bitlane: what went wrong and where (a file, a node, a
// field, an argument). Library code reports bad input by throwing it; the CLI
// and the C API turn it into a message and a status.
#pragma once

#include <stdexcept>
#include <string>

namespace bitlane {

class Error : public std::runtime_error {
 public:
  Error(std::string where, std::string reason);

  // "model.json: node 'fc1': field 'units'" or "swar::gemm: argument K".
  const std::string& where() const { return where_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string where_;
  std::string reason_;
};

[[noreturn]] void fail(const std::string& where, const std::string& reason);

// Throws Error(where, reason) unless cond holds. For argument and input checks.
inline void require(bool cond, const char* where, const std::string& reason) {
  if (!cond) fail(where, reason);
}

}  // namespace bitlane
