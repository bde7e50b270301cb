// Grids of quantization plans for `bitlane sweep` and `bitlane bench`:
// brace expansion ("scheme=term,g={8,16},k={6,10}" is four plans), named
// presets, and repeated options that cxxopts would split at commas.
#pragma once

#include <string>
#include <vector>

namespace bitlane::cli {

// Shell-style brace expansion, nested braces allowed: "a{1,2}b{x,y}" gives
// a1bx a1by a2bx a2by (first brace varies slowest). Unbalanced braces or
// more than `max_items` results are usage errors.
std::vector<std::string> expand_braces(const std::string& spec, size_t max_items = 10000);

// A named grid ("standard", "quick") as plan specs, or empty if `name` is
// not a preset.
std::vector<std::string> preset_grid(const std::string& name);
std::vector<std::string> preset_names();

// Removes every "--name VALUE" and "--name=VALUE" from argv (updating argc)
// and returns the values in order, so a value may hold commas and the option
// may repeat.
std::vector<std::string> take_repeated(int& argc, char** argv, const std::string& name);

}  // namespace bitlane::cli
