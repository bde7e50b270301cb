// The image files a command should read: files named on the command line,
// and image files (by extension) found by walking folders recursively in a
// stable, sorted order. Symlink loops and unreadable entries become problems
// to report, never infinite walks.
#pragma once

#include <string>
#include <vector>

#include "apps/file_batch.h"

namespace bitlane::cli {

struct InputWalk {
  std::vector<InputFile> files;       // in processing order (regular files' sizes mostly not looked up)
  std::vector<std::string> problems;  // "path: reason" for what could not be listed
  size_t skipped = 0;                 // non-image files inside folders
};

InputWalk collect_inputs(const std::vector<std::string>& args);

// One file named in a list (eval's CSV), with its size when stat() finds a
// regular file; otherwise kUnknownSize, and reading it reports the problem.
InputFile listed_file(const std::string& path);

bool has_image_extension(const std::string& path);

}  // namespace bitlane::cli
