// MX reachability of a domain: RFC 5321 §5.1 lookup order, RFC 7505 null MX, and
// Cloudflare's proxy ranges (which carry no SMTP; providers.md "Real-world failure facts").
#include "mailsim/auth/mx.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "address.hpp"
#include "mailsim/world/record.hpp"

namespace mailsim::auth {
namespace {

// RFC 5321 §5.1 does not bound the MX set; RFC 7208 §4.6.4 bounds its `mx` mechanism to
// 10 exchanges for the same reason (one lookup must not cost without limit).
constexpr std::size_t kMaxMxHosts = 10;

struct Range {
  int family;
  std::array<unsigned char, 16> net;
  int bits;
};

Range v4(unsigned a, unsigned b, unsigned c, unsigned d, int bits) {
  return {AF_INET,
          {static_cast<unsigned char>(a), static_cast<unsigned char>(b),
           static_cast<unsigned char>(c), static_cast<unsigned char>(d)},
          bits};
}

// Cloudflare's proxy ranges as providers.md lists them (cloudflare.com/ips publishes more;
// these are the ones a proxied name is seen to answer with).
const std::array<Range, 7>& cloudflare_ranges() {
  static const std::array<Range, 7> ranges{
      v4(104, 16, 0, 0, 13),  v4(104, 24, 0, 0, 14),  v4(172, 64, 0, 0, 13),
      v4(173, 245, 48, 0, 20), v4(162, 158, 0, 0, 15), v4(188, 114, 96, 0, 20),
      Range{AF_INET6, {0x26, 0x06, 0x47, 0x00}, 32},
  };
  return ranges;
}

bool in_range(const unsigned char* addr, const Range& r) {
  int full = r.bits / 8;
  if (!std::equal(addr, addr + full, r.net.begin())) return false;
  int rest = r.bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (addr[full] & mask) == (r.net[static_cast<std::size_t>(full)] & mask);
}

std::string describe_host(const MxHost& h) {
  if (h.addresses.empty()) return h.name + " → no address";
  std::vector<std::string> shown;
  for (const auto& a : h.addresses)
    shown.push_back(is_cloudflare_proxy(a) ? a + " (Cloudflare proxy)" : a);
  return fmt::format("{} → {}", h.name, fmt::join(shown, ", "));
}

}  // namespace

bool is_cloudflare_proxy(std::string_view address) {
  std::array<unsigned char, 16> bytes{};
  int family = parse_address(address, bytes.data());
  if (family == 0) return false;
  for (const Range& r : cloudflare_ranges())
    if (r.family == family && in_range(bytes.data(), r)) return true;
  return false;
}

MxResult check_mx(const std::string& domain_in, dns::Resolver& resolver) {
  MxResult out;
  TracingResolver tracing(resolver, out.trace);
  out.domain = world::canonical_name(domain_in);
  if (out.domain.empty() || world::is_ip_address(out.domain)) {
    out.result = Result::permerror;
    out.cause = fmt::format("\"{}\" is not a domain name", domain_in);
    return out;
  }

  // RFC 5321 §5.1: "the SMTP client SHOULD first look up MX RRs for the domain".
  dns::Answer mx = tracing.query(out.domain, dns::RrType::MX);
  if (mx.ok()) {
    std::vector<world::Record> records = mx.of_type(dns::RrType::MX);
    // Lower preference first; equal preferences keep the served order (deterministic; §5.1
    // asks for randomisation only among equals, which does not change reachability).
    std::stable_sort(records.begin(), records.end(),
                     [](const auto& a, const auto& b) { return a.preference < b.preference; });
    for (const auto& rec : records) {
      std::string name = world::canonical_name(rec.value);
      // RFC 7505 §3: a single "MX 0 ." says the domain accepts no mail at all.
      if (name.empty() || name == ".") {
        out.null_mx = true;
        continue;
      }
      if (out.hosts.size() >= kMaxMxHosts) break;
      out.hosts.push_back({name, rec.preference, {}});
    }
    if (out.hosts.empty() && out.null_mx) {
      out.result = Result::fail;
      out.cause = fmt::format("MX {} → \"0 .\": null MX, the domain accepts no mail (RFC 7505)",
                              out.domain);
      out.trace.push_back({TraceStep::Kind::step, out.cause});
      return out;
    }
  } else if (mx.status == dns::DnsStatus::nodata) {
    // §5.1: "If an empty list of MXs is returned, the address is treated as if it was
    // associated with an implicit MX RR, with a preference of 0, pointing to that host."
    out.implicit_mx = true;
    out.hosts.push_back({out.domain, 0, {}});
  } else {
    Result r = dns_status_to_result(mx.status);
    if (r == Result::none) {  // NXDOMAIN: the domain does not exist, so nothing receives
      out.result = Result::fail;
      out.cause = fmt::format("MX {} → {}: the domain does not exist, no mail server",
                              out.domain, dns::to_string(mx.status));
    } else {
      out.result = r;
      out.cause = fmt::format("MX {} → {}: the mail server lookup failed{}", out.domain,
                              dns::to_string(mx.status),
                              r == Result::temperror ? " temporarily" : "");
    }
    out.trace.push_back({TraceStep::Kind::step, out.cause});
    return out;
  }

  // Each exchange: A first (the common case stops there), then AAAA (§5.1 "the SMTP client
  // ... MUST be able to try ... multiple addresses").
  bool temporary = false;
  std::size_t looked_up = 0;
  for (MxHost& host : out.hosts) {
    ++looked_up;
    for (dns::RrType type : {dns::RrType::A, dns::RrType::AAAA}) {
      dns::Answer a = tracing.query(host.name, type);
      if (!a.ok()) {
        if (a.temporary_error()) temporary = true;
        continue;
      }
      for (const auto& rec : a.of_type(type)) {
        host.addresses.push_back(rec.value);
        if (out.usable_host.empty() && !is_cloudflare_proxy(rec.value)) {
          out.usable_host = host.name;
          out.usable_address = rec.value;
        }
      }
      if (!out.usable_host.empty()) break;
    }
    if (!out.usable_host.empty()) break;
  }

  std::vector<std::string> seen;
  for (std::size_t i = 0; i < looked_up; ++i) seen.push_back(describe_host(out.hosts[i]));
  const std::string what = fmt::format("{} {}: {}", out.implicit_mx ? "implicit MX" : "MX",
                                       out.domain, fmt::join(seen, "; "));
  if (!out.usable_host.empty()) {
    out.result = Result::pass;
    out.cause = fmt::format("{}: a mail server at {}", what, out.usable_address);
  } else if (temporary) {
    out.result = Result::temperror;
    out.cause = fmt::format("{}: an address lookup failed temporarily", what);
  } else {
    bool any_address = std::any_of(out.hosts.begin(), out.hosts.end(),
                                   [](const MxHost& h) { return !h.addresses.empty(); });
    out.result = Result::fail;
    out.cause = any_address
                    ? fmt::format("{}: only Cloudflare proxy addresses, which carry no SMTP "
                                  "(port 25 is not proxied): no mail server",
                                  what)
                    : fmt::format("{}: no address for any exchange: no mail server", what);
  }
  out.trace.push_back({TraceStep::Kind::step, out.cause});
  return out;
}

}  // namespace mailsim::auth
