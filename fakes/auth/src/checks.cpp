// Authentication-Results (RFC 8601) from the results of one message's checks.
#include "mailsim/auth/checks.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace mailsim::auth {
namespace {

// RFC 5322 §3.2.2 comment text: "(", ")" and "\" must be quoted-pairs; CR/LF dropped.
std::string comment(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  out += '(';
  // Runs of ordinary characters are appended whole; causes are sentences.
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\r' && c != '\n' && c != '(' && c != ')' && c != '\\') continue;
    out.append(text.substr(run, i - run));
    run = i + 1;
    if (c == '\r' || c == '\n') continue;
    out += '\\';
    out += c;
  }
  out.append(text.substr(run));
  out += ')';
  return out;
}

// RFC 8601 §2.2 pvalue: a value with characters outside the token/addr-spec set is
// written as a quoted-string.
std::string pvalue(std::string_view value) {
  bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && c != '"' && c != '(' && c != ')' && c != ';' && c != '\\' &&
           c != ',' && c != '[' && c != ']' && c != '<' && c != '>';
  });
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c != '\r' && c != '\n') out += c;
  }
  return out + "\"";
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string spf_resinfo(const SpfResult& spf, const Connection& connection,
                        const Envelope& envelope) {
  std::string s = fmt::format("spf={}", to_string(spf.result));
  if (!spf.cause.empty()) s.append(" ").append(comment(spf.cause));
  // RFC 8601 §2.7.2: smtp.mailfrom for the MAIL FROM identity; smtp.helo when the
  // reverse-path is null or the HELO identity was checked.
  if (spf.identity == "helo" || envelope.mail_from.empty())
    s.append(" smtp.helo=").append(pvalue(connection.helo));
  else
    s.append(" smtp.mailfrom=").append(pvalue(envelope.mail_from));
  return s;
}

}  // namespace

std::string authentication_results(const std::string& authserv_id, const CheckSet& checks,
                                   const Connection& connection, const Envelope& envelope) {
  std::vector<std::string> parts;
  if (checks.spf) {
    parts.push_back(spf_resinfo(*checks.spf, connection, envelope));
  } else if (checks.spf_helo) {
    parts.push_back(spf_resinfo(*checks.spf_helo, connection, envelope));
  }
  if (checks.dkim) {
    if (checks.dkim->signatures.empty()) {
      // RFC 8601 §2.7.1: "none" when the message was not signed.
      parts.push_back(checks.dkim->cause.empty()
                          ? std::string("dkim=none")
                          : fmt::format("dkim=none {}", comment(checks.dkim->cause)));
    }
    // One resinfo per signature (RFC 8601 §2.7.1), header.b disambiguating (RFC 6008 §4:
    // at least 8 characters).
    for (const DkimSignatureResult& sig : checks.dkim->signatures) {
      std::string s = fmt::format("dkim={}", to_string(sig.result));
      std::string why = sig.cause;
      if (sig.key_bits > 0)
        why = why.empty() ? fmt::format("{}-bit key", sig.key_bits)
                          : fmt::format("{}; {}-bit key", why, sig.key_bits);
      if (!why.empty()) s.append(" ").append(comment(why));
      if (!sig.domain.empty()) s.append(" header.d=").append(pvalue(sig.domain));
      if (!sig.selector.empty()) s.append(" header.s=").append(pvalue(sig.selector));
      if (!sig.signature_b.empty()) s.append(" header.b=").append(pvalue(sig.signature_b.substr(0, 8)));
      parts.push_back(std::move(s));
    }
  }
  if (checks.dmarc) {
    const DmarcResult& d = *checks.dmarc;
    std::string s = fmt::format("dmarc={}", to_string(d.result));
    // The published policy in a comment, as Gmail writes "(p=REJECT sp=REJECT dis=NONE)".
    if (d.record) {
      std::string policy = "p=" + upper(d.record->p);
      if (!d.record->sp.empty()) policy += " sp=" + upper(d.record->sp);
      if (d.record->pct != 100) policy += fmt::format(" pct={}", d.record->pct);
      s.append(" ").append(comment(policy));
    }
    if (!d.cause.empty()) s.append(" ").append(comment(d.cause));
    if (!d.from_domain.empty()) s.append(" header.from=").append(pvalue(d.from_domain));
    parts.push_back(std::move(s));
  }
  if (checks.iprev) {
    // RFC 8601 §2.7.3: property policy.iprev is the client address; the name goes in a
    // comment.
    const IprevResult& ip = *checks.iprev;
    std::string s = fmt::format("iprev={}", to_string(ip.result));
    if (!ip.cause.empty()) s.append(" ").append(comment(ip.cause));
    s.append(" policy.iprev=").append(pvalue(connection.client_ip));
    if (!ip.verified_name.empty()) s.append(" ").append(comment(ip.verified_name));
    parts.push_back(std::move(s));
  }
  std::string out = fmt::format("Authentication-Results: {}", authserv_id);
  if (parts.empty()) return out.append("; none");  // RFC 8601 §2.2 no-result
  // Folded before each resinfo (RFC 5322 §2.2.3) so long causes stay readable.
  for (const std::string& part : parts) out.append(";\r\n\t").append(part);
  return out;
}

}  // namespace mailsim::auth
