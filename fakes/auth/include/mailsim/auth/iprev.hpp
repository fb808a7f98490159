// iprev / FCrDNS (RFC 8601 §3, RFC 1912 §2.1): PTR of the client address, forward lookup
// of each name, and whether one of them resolves back to the address.
#pragma once

#include "mailsim/auth/result.hpp"

namespace mailsim::auth {

struct IprevResult : CheckResult {
  std::vector<std::string> ptr_names;  // what the PTR said
  std::string verified_name;           // the PTR name whose A/AAAA includes the address
};

IprevResult check_iprev(const std::string& client_ip, dns::Resolver& resolver);

}  // namespace mailsim::auth
