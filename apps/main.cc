// bitlane: run quantized networks at any bit width. `bitlane help` lists the
// subcommands; every subcommand has --help with examples.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "bitlane_version.h"
#include "apps/commands.h"
#include "core/error.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"selfcheck", bitlane::cli::cmd_selfcheck,
     "print CPU features and SIMD target, check the packed GEMM kernels"},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "bitlane %s - bit-precise CPU inference\n\nUsage: bitlane <command> [options]\n\nCommands:\n",
               BITLANE_VERSION_STRING);
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'bitlane <command> --help' for a command's options and examples.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::printf("bitlane %s\n", BITLANE_VERSION_STRING);
    return 0;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    print_usage(stdout);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (cmd != c.name) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const bitlane::Error& e) {
      std::fprintf(stderr, "bitlane %s: %s\n", c.name, e.what());
      return 1;
    } catch (const std::exception& e) {  // cxxopts parse errors, bad_alloc, ...
      std::fprintf(stderr, "bitlane %s: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "bitlane: unknown command '%s'\n\n", cmd.c_str());
  print_usage(stderr);
  return 2;
}
