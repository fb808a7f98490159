// Each subcommand lives in its own cmd_<name>.cpp and registers itself on the app.
// A command's callback returns the process exit code through `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

namespace mailsim::cli {

// Exit codes shared by every subcommand (README "Exit codes").
inline constexpr int kExitOk = 0;
inline constexpr int kExitExpectationFailed = 1;
inline constexpr int kExitUsage = 2;

void register_dns_commands(CLI::App& app, int& exit_code);
void register_receive_commands(CLI::App& app, int& exit_code);
void register_run_commands(CLI::App& app, int& exit_code);  // run, list, explain
void register_guide_commands(CLI::App& app, int& exit_code);

}  // namespace mailsim::cli
