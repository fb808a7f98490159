// iprev (RFC 8601 §3) / forward-confirmed reverse DNS (RFC 1912 §2.1).
#include "mailsim/auth/iprev.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <array>
#include <cstring>

#include "address.hpp"
#include "mailsim/world/record.hpp"

namespace mailsim::auth {
namespace {

// RFC 8601 §3 does not bound the PTR set; a bound keeps one lookup from costing without
// limit (the same spirit as RFC 7208 §4.6.4's limit of 10).
constexpr std::size_t kMaxPtrNames = 10;

// Compares two textual addresses by value ("2001:db8::1" == "2001:0db8:0:0::1").
bool same_address(std::string_view a, std::string_view b) {
  std::array<unsigned char, 16> x{}, y{};
  int family_a = parse_address(a, x.data());
  if (family_a == 0 || parse_address(b, y.data()) != family_a) return false;
  return std::memcmp(x.data(), y.data(), family_a == AF_INET6 ? 16 : 4) == 0;
}

}  // namespace

IprevResult check_iprev(const std::string& client_ip, dns::Resolver& resolver) {
  IprevResult out;
  TracingResolver tracing(resolver, out.trace);
  std::string reverse = world::reverse_name(client_ip);
  if (reverse.empty()) {
    out.result = Result::permerror;
    out.cause = fmt::format("\"{}\" is not an IP address", client_ip);
    return out;
  }
  const bool v6 = world::is_ipv6(client_ip);
  const dns::RrType forward_type = v6 ? dns::RrType::AAAA : dns::RrType::A;

  dns::Answer ptr = tracing.query(reverse, dns::RrType::PTR);
  if (!ptr.ok()) {
    Result r = dns_status_to_result(ptr.status);
    if (r == Result::temperror) {
      out.result = Result::temperror;
      out.cause = fmt::format("PTR {} → {}: reverse lookup failed temporarily", client_ip,
                              dns::to_string(ptr.status));
      return out;
    }
    // RFC 8601 §2.7.3 calls "no PTR data" permerror; receivers (Gmail's 550-5.7.25) and
    // this project's personas treat it as the FCrDNS failure it is, so the result is fail
    // and the cause names the missing PTR.
    out.result = Result::fail;
    out.cause = fmt::format("PTR {} → {}: no reverse DNS (FCrDNS fail)", client_ip,
                            dns::to_string(ptr.status));
    return out;
  }
  for (const dns::Record& rec : ptr.records) {  // of_type(PTR) without the copy
    if (rec.type != dns::RrType::PTR) continue;
    if (out.ptr_names.size() >= kMaxPtrNames) break;
    out.ptr_names.push_back(world::canonical_name(rec.value));
  }
  if (out.ptr_names.empty()) {
    out.result = Result::fail;
    out.cause = fmt::format("PTR {} → no names: no reverse DNS (FCrDNS fail)", client_ip);
    return out;
  }

  // Forward-confirm each name: one of its A/AAAA must be the client address.
  std::vector<std::string> explanations;
  bool temporary = false;
  for (const std::string& name : out.ptr_names) {
    dns::Answer fwd = tracing.query(name, forward_type);
    if (!fwd.ok()) {
      if (dns_status_to_result(fwd.status) == Result::temperror) temporary = true;
      explanations.push_back(fmt::format("{} {} → {}", world::to_string(forward_type), name,
                                         dns::to_string(fwd.status)));
      continue;
    }
    std::vector<std::string> addresses;
    for (const dns::Record& rec : fwd.records) {  // of_type(forward_type) without the copy
      if (rec.type != forward_type) continue;
      addresses.push_back(rec.value);
      if (same_address(rec.value, client_ip)) {
        out.verified_name = name;
        out.result = Result::pass;
        out.cause = fmt::format("PTR {} → {}; {} {} → {}: FCrDNS pass", client_ip, name,
                                world::to_string(forward_type), name, rec.value);
        out.trace.push_back({TraceStep::Kind::step, out.cause});
        return out;
      }
    }
    explanations.push_back(fmt::format("{} {} → {} ≠ {}", world::to_string(forward_type), name,
                                       fmt::join(addresses, ", "), client_ip));
  }
  std::string names = fmt::format("{}", fmt::join(out.ptr_names, ", "));
  std::string why = fmt::format("{}", fmt::join(explanations, "; "));
  if (temporary) {
    out.result = Result::temperror;
    out.cause = fmt::format("PTR {} → {}; {}: forward lookup failed temporarily", client_ip,
                            names, why);
  } else {
    out.result = Result::fail;
    out.cause = fmt::format("PTR {} → {}; {}: FCrDNS fail", client_ip, names, why);
  }
  out.trace.push_back({TraceStep::Kind::step, out.cause});
  return out;
}

}  // namespace mailsim::auth
