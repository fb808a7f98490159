// HELO/EHLO argument sanity (RFC 5321 §4.1.1.1: "a fully-qualified domain name of the
// SMTP client if one is available", else an address literal, §4.1.3).
#include "mailsim/auth/helo.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "ascii.hpp"
#include "mailsim/world/record.hpp"

namespace mailsim::auth {
namespace {

// RFC 1035 §2.3.1 / RFC 1123 §2.1 LDH labels, at least two of them, TLD not all-numeric.
bool is_fqdn(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253 || name.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  std::string_view last;
  while (true) {
    std::size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos
                                                                               : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!ascii::is_alnum(c) && c != '-') return false;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !std::all_of(last.begin(), last.end(),
                      [](char c) { return ascii::is_digit(c); });
}

// "[12.34.56.78]" or "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3) → the address; else "".
std::string address_literal(std::string_view helo) {
  if (helo.size() < 3 || helo.front() != '[' || helo.back() != ']') return "";
  std::string_view inner = helo.substr(1, helo.size() - 2);
  if (inner.size() > 5 && (inner.substr(0, 5) == "IPv6:" || inner.substr(0, 5) == "ipv6:"))
    inner.remove_prefix(5);
  return std::string(inner);
}

}  // namespace

HeloResult check_helo(const std::string& helo, const std::string& client_ip,
                      dns::Resolver& resolver) {
  HeloResult out;
  TracingResolver tracing(resolver, out.trace);
  std::string name = world::canonical_name(helo);
  if (name.empty()) {
    out.result = Result::fail;
    out.cause = "empty HELO/EHLO argument (RFC 5321 §4.1.1.1)";
    return out;
  }
  out.localhost = name == "localhost" || name == "localhost.localdomain";
  std::string literal = address_literal(helo);
  out.bare_ip = world::is_ip_address(helo) || world::is_ip_address(literal);
  out.fqdn = !out.bare_ip && !out.localhost && is_fqdn(name);

  // The client's PTR names, to compare with the HELO name.
  std::vector<std::string> ptr_names;
  std::string reverse = world::reverse_name(client_ip);
  if (!reverse.empty() && out.fqdn) {
    dns::Answer ptr = tracing.query(reverse, dns::RrType::PTR);
    for (const dns::Record& rec : ptr.records)  // of_type(PTR) without the copy
      if (rec.type == dns::RrType::PTR) ptr_names.push_back(world::canonical_name(rec.value));
    out.matches_ptr = std::find(ptr_names.begin(), ptr_names.end(), name) != ptr_names.end();
  }

  if (out.bare_ip) {
    std::string address = literal.empty() ? helo : literal;
    out.matches_client = address == client_ip;
    if (literal.empty()) {
      out.result = Result::fail;
      out.cause = fmt::format("HELO {} is a bare IP address, not a domain or an address "
                              "literal in brackets (RFC 5321 §4.1.3)", helo);
    } else if (out.matches_client) {
      out.result = Result::neutral;
      out.cause = fmt::format("HELO {} is an address literal of the client: valid but no "
                              "domain name (RFC 5321 §4.1.1.1)", helo);
    } else {
      out.result = Result::fail;
      out.cause = fmt::format("HELO {} is an address literal that is not the client {}", helo,
                              client_ip);
    }
    out.trace.push_back({TraceStep::Kind::step, out.cause});
    return out;
  }
  if (out.localhost) {
    out.result = Result::fail;
    out.cause = fmt::format("HELO {} names no host on the Internet", helo);
    out.trace.push_back({TraceStep::Kind::step, out.cause});
    return out;
  }
  if (!out.fqdn) {
    out.result = Result::fail;
    out.cause = fmt::format("HELO {} is not a fully-qualified domain name (RFC 5321 §4.1.1.1)",
                            helo);
    out.trace.push_back({TraceStep::Kind::step, out.cause});
    return out;
  }

  bool temporary = false;
  std::vector<std::string> addresses;
  for (dns::RrType type : {dns::RrType::A, dns::RrType::AAAA}) {
    dns::Answer answer = tracing.query(name, type);
    if (answer.temporary_error()) temporary = true;
    for (dns::Record& rec : answer.records)  // of_type(type), moved out
      if (rec.type == type) addresses.push_back(std::move(rec.value));
  }
  out.resolves = !addresses.empty();
  out.matches_client = std::find(addresses.begin(), addresses.end(), client_ip) != addresses.end();

  if (out.matches_client) {
    out.result = Result::pass;
    out.cause = fmt::format("HELO {} resolves to the client {}", name, client_ip);
  } else if (temporary) {
    out.result = Result::temperror;
    out.cause = fmt::format("HELO {}: address lookup failed temporarily", name);
  } else if (!out.resolves) {
    out.result = Result::fail;
    out.cause = fmt::format("HELO {} does not resolve", name);
  } else {
    out.result = Result::neutral;
    out.cause = fmt::format("HELO {} resolves to {}, not the client {}{}", name,
                            fmt::join(addresses, ", "), client_ip,
                            out.matches_ptr ? " (but matches its PTR)" : "");
  }
  out.trace.push_back({TraceStep::Kind::step, out.cause});
  return out;
}

}  // namespace mailsim::auth
