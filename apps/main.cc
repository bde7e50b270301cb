// bitlane: run quantized networks at any bit width. `bitlane help` lists the
// subcommands; every subcommand has --help with examples.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "bitlane_version.h"
#include "apps/cli_common.h"
#include "apps/commands.h"
#include "core/error.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"run", bitlane::cli::cmd_run, "classify image files and folders"},
    {"eval", bitlane::cli::cmd_eval, "accuracy on labelled images, or bits per character on text"},
    {"bench", bitlane::cli::cmd_bench, "latency and throughput over threads x bit widths"},
    {"sweep", bitlane::cli::cmd_sweep, "accuracy against cost (term pairs, bytes, speed) over a grid of plans"},
    {"estimate", bitlane::cli::cmd_estimate, "cycles, latency and energy on a systolic array, per layer"},
    {"info", bitlane::cli::cmd_info, "inputs, outputs, layers, parameters, MACs, bytes per scheme"},
    {"import", bitlane::cli::cmd_import, "convert an ONNX model to bitlane's format"},
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
    } catch (const bitlane::cli::UsageError& e) {
      std::fprintf(stderr, "bitlane %s: %s\n", c.name, e.what());
      return 2;
    } catch (const cxxopts::exceptions::exception& e) {
      std::fprintf(stderr, "bitlane %s: %s (see bitlane %s --help)\n", c.name, e.what(), c.name);
      return 2;
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
