// DNS block lists (RFC 5782): <reversed address>.<zone> A, TXT for the reason.
#include "mailsim/auth/dnsbl.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "mailsim/world/record.hpp"

namespace mailsim::auth {
namespace {

// Spamhaus ZEN return codes (https://www.spamhaus.org/faq/section/DNSBL%20Usage):
// 127.0.0.2–3 SBL, 127.0.0.4–7 XBL, 127.0.0.10–11 PBL. 127.255.255.x are error codes
// (query refused, e.g. through a public resolver), not listings.
std::string spamhaus_list(std::string_view code) {
  if (code == "127.0.0.2" || code == "127.0.0.3") return "SBL";
  if (code == "127.0.0.4" || code == "127.0.0.5" || code == "127.0.0.6" || code == "127.0.0.7")
    return "XBL";
  if (code == "127.0.0.10" || code == "127.0.0.11") return "PBL";
  return "";
}

}  // namespace

DnsblResult check_dnsbl(const std::string& client_ip, const std::vector<std::string>& zones,
                        dns::Resolver& resolver) {
  DnsblResult out;
  TracingResolver tracing(resolver, out.trace);
  std::string reverse = world::reverse_name(client_ip);
  if (reverse.empty()) {
    out.result = Result::permerror;
    out.cause = fmt::format("\"{}\" is not an IP address", client_ip);
    return out;
  }
  if (zones.empty()) {
    out.result = Result::none;
    out.cause = "no DNSBL zones configured";
    return out;
  }
  // RFC 5782 §2.1 (IPv4: octets reversed) and §2.4 (IPv6: nibbles reversed): the same
  // labels as the reverse-DNS name without its in-addr.arpa / ip6.arpa suffix.
  std::string_view labels = reverse;
  for (std::string_view suffix : {".in-addr.arpa", ".ip6.arpa"})
    if (labels.ends_with(suffix)) labels.remove_suffix(suffix.size());

  std::vector<std::string> errors;
  for (const std::string& zone_raw : zones) {
    std::string zone = world::canonical_name(zone_raw);
    std::string name = fmt::format("{}.{}", labels, zone);
    dns::Answer a = tracing.query(name, dns::RrType::A);
    if (!a.ok()) {
      Result r = dns_status_to_result(a.status);
      // NXDOMAIN/NODATA: "not listed" (RFC 5782 §2.1).
      if (r != Result::none)
        errors.push_back(fmt::format("{}: {}", zone, dns::to_string(a.status)));
      continue;
    }
    // The first A record (of_type(A).front(), without copying them all).
    auto first_a = std::find_if(a.records.begin(), a.records.end(),
                                [](const dns::Record& r) { return r.type == dns::RrType::A; });
    if (first_a == a.records.end()) continue;
    std::string code = first_a->value;
    if (code.starts_with("127.255.255.")) {
      // Spamhaus "error" codes: the list refused to answer; not a listing.
      errors.push_back(fmt::format("{}: error code {}", zone, code));
      continue;
    }
    // RFC 5782 §2.1: any A record in 127.0.0.0/8 means listed; anything else is not a
    // valid DNSBL answer (§2.3 says 127.0.0.1 must not be used for listings).
    if (!code.starts_with("127.")) {
      errors.push_back(fmt::format("{}: answer {} outside 127.0.0.0/8", zone, code));
      continue;
    }
    DnsblListing listing;
    listing.zone = zone;
    listing.return_code = code;
    if (zone.find("spamhaus") != std::string::npos) listing.list = spamhaus_list(code);
    dns::Answer txt = tracing.query(name, dns::RrType::TXT);
    if (txt.ok()) {
      auto texts = txt.of_type(dns::RrType::TXT);
      if (!texts.empty()) listing.reason = texts.front().text();
    }
    out.trace.push_back(
        {TraceStep::Kind::step,
         fmt::format("{} listed on {} ({}{}){}", client_ip, zone, code,
                     listing.list.empty() ? "" : " " + listing.list,
                     listing.reason.empty() ? "" : ": " + listing.reason)});
    out.listings.push_back(std::move(listing));
  }
  if (!out.listings.empty()) {
    out.result = Result::fail;
    const DnsblListing& first = out.listings.front();
    out.cause = fmt::format("{} is listed on {} ({}{})", client_ip, first.zone,
                            first.return_code, first.list.empty() ? "" : " " + first.list);
    if (out.listings.size() > 1)
      out.cause += fmt::format(" and {} more list(s)", out.listings.size() - 1);
  } else if (!errors.empty()) {
    out.result = Result::temperror;
    out.cause = fmt::format("DNSBL lookup failed: {}", fmt::join(errors, "; "));
  } else {
    out.result = Result::pass;
    out.cause = fmt::format("{} is not listed on {}", client_ip, fmt::join(zones, ", "));
  }
  return out;
}

}  // namespace mailsim::auth
