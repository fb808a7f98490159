// mailsim — SMTP deliverability simulator. The executable only parses flags and hands
// off to the areas; every subcommand is registered from its own file.
#include <exception>
#include <iostream>

#include <fmt/core.h>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "mailsim — builds a sealed world (fake DNS, fake Gmail/Outlook/Yahoo/mail-tester "
      "receivers, proxies, blocked ports) around a mail setup, sends real SMTP through it "
      "and explains where each message lands and why."};
  app.set_version_flag("--version", "mailsim 0.1.0");
  app.require_subcommand(1);
  int exit_code = mailsim::cli::kExitOk;
  mailsim::cli::register_dns_commands(app, exit_code);
  mailsim::cli::register_receive_commands(app, exit_code);
  mailsim::cli::register_run_commands(app, exit_code);
  mailsim::cli::register_guide_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : mailsim::cli::kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mailsim: {}\n", e.what());
    return mailsim::cli::kExitUsage;
  }
  return exit_code;
}
