// The guide-baseline world: exactly the DNS a reader of ../shared/reference/posteio-guide.md
// ends up with, plus the receiving providers' own domains.
#pragma once

#include <string>

#include "mailsim/world/world.hpp"

namespace mailsim::world {

struct BaselineOptions {
  std::string domain = "nodeseek.com";       // the guide's example domain
  std::string mx_label = "mx";               // guide §2: sub-domain mx.nodeseek.com
  std::string server_ipv4 = "12.34.56.78";   // guide §2: server IP
  std::string server_ipv6 = "";              // the guide uses IPv4 only
  bool root_a = true;                        // guide §2 note: a root A record is advised
};

// Well-known names of the baseline world.
inline constexpr const char* kGuideDomain = "nodeseek.com";
inline constexpr const char* kGuideMxHost = "mx.nodeseek.com";
inline constexpr const char* kGuideServerIp = "12.34.56.78";
inline constexpr const char* kFakeDnsHost = "ns.mailsim.test";
inline constexpr const char* kDnsblZone = "zen.spamhaus.org";

// Hosts and records of the setup under test (guide §2–§3) and of every persona:
// gmail.com, outlook.com, yahoo.com, mail-tester.com, corp.example (corporate MX), each
// with MX/A/SPF/DMARC; a remote sender host per persona for inbound probes; the fake DNS
// host; an empty DNSBL zone. The DKIM selector record is absent: the setup under test
// publishes it (guide §6).
World guide_baseline(const BaselineOptions& options = {});

// Canonical persona names in report order and the domain each receives mail for.
struct PersonaDomain {
  std::string persona;  // "gmail"
  std::string domain;   // "gmail.com"
  std::string mx_host;  // "gmail-smtp-in.l.google.com"
};
const std::vector<PersonaDomain>& persona_domains();

}  // namespace mailsim::world
