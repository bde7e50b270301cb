// Subcommands of the bitlane CLI. Each parses its own options (cxxopts) and
// returns the process exit status; user errors are reported by main.
#pragma once

namespace bitlane::cli {

int cmd_selfcheck(int argc, char** argv);

}  // namespace bitlane::cli
