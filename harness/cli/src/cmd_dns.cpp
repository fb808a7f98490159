// `mailsim dns …`: the fake DNS server on its own. (Filled in by the fakes/dns work.)
#include "commands.hpp"

namespace mailsim::cli {

void register_dns_commands(CLI::App& app, int& exit_code) {
  auto* dns = app.add_subcommand("dns", "The world's fake DNS server");
  dns->require_subcommand(1);
  (void)exit_code;
}

}  // namespace mailsim::cli
