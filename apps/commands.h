// Subcommands of the bitlane CLI. Each parses its own options (cxxopts) and
// returns the process exit status; user errors are reported by main.
#pragma once

namespace bitlane::cli {

int cmd_selfcheck(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_import(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_estimate(int argc, char** argv);

}  // namespace bitlane::cli
