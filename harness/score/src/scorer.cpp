#include "mailsim/score/scorer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <regex>
#include <set>

#include <arpa/inet.h>
#include <fmt/format.h>

namespace mailsim::score {

std::string_view result_name(auth::Result result) {
  switch (result) {
    case auth::Result::pass: return "pass";
    case auth::Result::fail: return "fail";
    case auth::Result::softfail: return "softfail";
    case auth::Result::neutral: return "neutral";
    case auth::Result::none: return "none";
    case auth::Result::temperror: return "temperror";
    case auth::Result::permerror: return "permerror";
    case auth::Result::policy: return "policy";
  }
  return "none";
}

std::string_view to_string(SenderFailure failure) {
  switch (failure) {
    case SenderFailure::none: return "none";
    case SenderFailure::connect_timeout: return "connect_timeout";
    case SenderFailure::connect_refused: return "connect_refused";
    case SenderFailure::proxy_no_smtp: return "proxy_no_smtp";
    case SenderFailure::no_mx: return "no_mx";
    case SenderFailure::dns_failure: return "dns_failure";
    case SenderFailure::deferred_after_retries: return "deferred_after_retries";
    case SenderFailure::not_submitted: return "not_submitted";
  }
  return "none";
}

namespace {

struct Cidr4 {
  std::uint32_t net;
  int bits;
};

std::optional<std::uint32_t> parse_v4(const std::string& text) {
  in_addr addr{};
  if (inet_pton(AF_INET, text.c_str(), &addr) != 1) return std::nullopt;
  return ntohl(addr.s_addr);
}

constexpr std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// Cloudflare's published IPv4 ranges (cloudflare.com/ips-v4; providers.md).
constexpr std::array<Cidr4, 15> kCloudflareV4{{
    {ip(173, 245, 48, 0), 20}, {ip(103, 21, 244, 0), 22}, {ip(103, 22, 200, 0), 22},
    {ip(103, 31, 4, 0), 22},   {ip(141, 101, 64, 0), 18}, {ip(108, 162, 192, 0), 18},
    {ip(190, 93, 240, 0), 20}, {ip(188, 114, 96, 0), 20}, {ip(197, 234, 240, 0), 22},
    {ip(198, 41, 128, 0), 17}, {ip(162, 158, 0, 0), 15},  {ip(104, 16, 0, 0), 13},
    {ip(104, 24, 0, 0), 14},   {ip(172, 64, 0, 0), 13},   {ip(131, 0, 72, 0), 22},
}};

}  // namespace

std::string address_owner(const std::string& address) {
  if (auto v4 = parse_v4(address)) {
    for (const auto& cidr : kCloudflareV4) {
      std::uint32_t mask = cidr.bits == 0 ? 0 : ~std::uint32_t{0} << (32 - cidr.bits);
      if ((*v4 & mask) == (cidr.net & mask)) return "Cloudflare";
    }
    return "";
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    // 2606:4700::/32 and 2803:f800::/32, 2405:b500::/32, 2405:8100::/32, 2a06:98c0::/29,
    // 2c0f:f248::/32 — the first is the one proxied names answer with.
    const auto* b = v6.s6_addr;
    if ((b[0] == 0x26 && b[1] == 0x06 && b[2] == 0x47 && b[3] == 0x00) ||
        (b[0] == 0x28 && b[1] == 0x03 && b[2] == 0xf8 && b[3] == 0x00) ||
        (b[0] == 0x24 && b[1] == 0x05 && b[2] == 0xb5 && b[3] == 0x00) ||
        (b[0] == 0x24 && b[1] == 0x05 && b[2] == 0x81 && b[3] == 0x00) ||
        (b[0] == 0x2a && b[1] == 0x06 && b[2] == 0x98 && (b[3] & 0xf8) == 0xc0) ||
        (b[0] == 0x2c && b[1] == 0x0f && b[2] == 0xf2 && b[3] == 0x48)) {
      return "Cloudflare";
    }
  }
  return "";
}

namespace {

// Adds "(Cloudflare)" after each Cloudflare address in a trace line; true if any.
bool annotate_addresses(std::string& text) {
  static const std::regex kAddress(R"(([0-9]{1,3}(?:\.[0-9]{1,3}){3})|([0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}))");
  std::string out;
  bool any = false;
  auto begin = std::sregex_iterator(text.begin(), text.end(), kAddress);
  std::size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    auto end = static_cast<std::size_t>(m.position() + m.length());
    out += text.substr(last, end - last);
    last = end;
    std::string owner = address_owner(m.str());
    if (!owner.empty() && text.compare(end, owner.size() + 3, " (" + owner + ")") != 0) {
      out += " (" + owner + ")";
      any = true;
    }
  }
  out += text.substr(last);
  text = std::move(out);
  return any;
}

struct CheckRef {
  const char* name;
  const char* reference;
};

// The stage order of RFC 5321 (§3): connection, HELO, STARTTLS, MAIL, end of DATA.
// A failure early in the dialogue is a cause of what follows, never the other way round.
std::vector<std::pair<CheckRef, const auth::CheckResult*>> checks_in_order(
    const auth::CheckSet& c) {
  std::vector<std::pair<CheckRef, const auth::CheckResult*>> out;
  auto add = [&](const char* name, const char* ref, const auth::CheckResult* r) {
    if (r) out.push_back({{name, ref}, r});
  };
  add("iprev", "RFC 8601 §3, RFC 1912 §2.1", c.iprev ? &*c.iprev : nullptr);
  add("dnsbl", "RFC 5782 §2", c.dnsbl ? &*c.dnsbl : nullptr);
  add("helo", "RFC 5321 §4.1.1.1", c.helo ? &*c.helo : nullptr);
  add("tls", "RFC 3207, RFC 8996", c.tls ? &*c.tls : nullptr);
  add("spf_helo", "RFC 7208 §2.3", c.spf_helo ? &*c.spf_helo : nullptr);
  add("spf", "RFC 7208 §2.6", c.spf ? &*c.spf : nullptr);
  add("dkim", "RFC 6376 §6.1", c.dkim ? &*c.dkim : nullptr);
  add("dmarc", "RFC 7489 §6.6", c.dmarc ? &*c.dmarc : nullptr);
  add("content", "RFC 5322 §3.6", c.content ? &*c.content : nullptr);
  // The From domain's own mail server (mail-tester's "no mail server" deduction).
  add("mx", "RFC 5321 §5.1, RFC 7505", c.mx ? &*c.mx : nullptr);
  return out;
}

std::string check_text(const std::string& name, const auth::CheckResult& r,
                       const auth::CheckSet& set, const std::string& client_ip) {
  std::string head = fmt::format("{}={}", name, result_name(r.result));
  // The iprev cause usually states the PTR chain itself; say it once.
  if (name == "iprev" && set.iprev && r.cause.find("PTR ") == std::string::npos) {
    const auto& ip = *set.iprev;
    std::string names;
    for (const auto& n : ip.ptr_names) names += (names.empty() ? "" : ", ") + n;
    head = fmt::format("PTR {} → {}: {}", client_ip.empty() ? "client" : client_ip,
                       names.empty() ? "no PTR" : names, head);
  } else if ((name == "spf" || name == "spf_helo") && (set.spf || set.spf_helo)) {
    const auto& s = name == "spf" ? *set.spf : *set.spf_helo;
    if (!s.domain.empty()) head += fmt::format(" for {}", s.domain);
    if (!s.record.empty()) head += fmt::format(" (\"{}\"", s.record) +
                                   (s.mechanism.empty() ? ")" : fmt::format(", matched {})", s.mechanism));
  } else if (name == "dkim" && set.dkim) {
    for (const auto& sig : set.dkim->signatures) {
      head += fmt::format(" [d={} s={} {}]", sig.domain, sig.selector, result_name(sig.result));
    }
  } else if (name == "dmarc" && set.dmarc) {
    const auto& d = *set.dmarc;
    if (!d.from_domain.empty()) head += " for " + d.from_domain;
    if (!d.policy.empty()) head += " (p=" + d.policy + ")";
  }
  return r.cause.empty() ? head : head + ": " + r.cause;
}

std::string sender_text(const Evidence& e) {
  const auto& s = e.sender;
  std::string where = s.target_host.empty()
                          ? s.target_ip
                          : (s.target_ip.empty() ? s.target_host
                                                 : fmt::format("{} ({})", s.target_host, s.target_ip));
  std::string tries = s.attempts > 1 ? fmt::format(" after {} attempts", s.attempts) : "";
  std::string detail = s.detail.empty() ? "" : " — " + s.detail;
  switch (s.failure) {
    case SenderFailure::connect_timeout:
      return fmt::format("connect to {} port {} timed out{}: outbound port {} blocked on the way{}",
                         where, s.port, tries, s.port, detail);
    case SenderFailure::connect_refused:
      return fmt::format("connect to {} port {} refused{}{}", where, s.port, tries, detail);
    case SenderFailure::proxy_no_smtp:
      return fmt::format("{} is a web proxy ({}): it carries no SMTP on port {}{}", where,
                         address_owner(s.target_ip).empty() ? "HTTP only"
                                                            : address_owner(s.target_ip),
                         s.port, detail);
    case SenderFailure::no_mx:
      return fmt::format("no MX and no A/AAAA for {} (RFC 5321 §5.1){}",
                         s.target_host.empty() ? e.domain : s.target_host, detail);
    case SenderFailure::dns_failure:
      return fmt::format("DNS lookup of {} failed (SERVFAIL or timeout){}", where, detail);
    case SenderFailure::deferred_after_retries:
      return fmt::format("{} deferred every attempt{}: the sender gave up{}", where, tries, detail);
    case SenderFailure::not_submitted:
      return fmt::format("the message was never sent{}", detail);
    case SenderFailure::none:
      break;
  }
  return "";
}

Disposition disposition_for(const Evidence& e) {
  if (e.received) {
    if (auto d = disposition_from_string(e.receiver_disposition)) return *d;
    if (e.final_reply) {
      if (e.final_reply->permanent()) return Disposition::rejected;
      if (e.final_reply->transient()) return Disposition::deferred;
      return Disposition::inbox;
    }
  }
  switch (e.sender.failure) {
    case SenderFailure::connect_timeout:
    case SenderFailure::connect_refused:
    case SenderFailure::proxy_no_smtp:
    case SenderFailure::no_mx:
    case SenderFailure::dns_failure:
      return Disposition::unreachable;
    case SenderFailure::deferred_after_retries:
      return Disposition::deferred;
    case SenderFailure::not_submitted:
    case SenderFailure::none:
      break;
  }
  return Disposition::not_sent;
}

std::string host_label(const std::string& host, const std::string& domain) {
  if (host == domain) return "@";
  if (!domain.empty() && host.size() > domain.size() + 1 && host.ends_with("." + domain)) {
    return host.substr(0, host.size() - domain.size() - 1);
  }
  return host;
}

}  // namespace

std::vector<Finding> derive_findings(const Evidence& e) {
  std::vector<Finding> out;
  std::set<std::string> seen_facts;
  auto add_fact = [&](std::string text, const std::string& check, const std::string& ref) {
    if (seen_facts.insert(text).second) {
      out.push_back({FindingKind::fact, check, "", std::move(text), ref});
    }
  };

  // 1. Facts about where the sender went: a proxied (Cloudflare) address is a root cause.
  if (e.sender.failure != SenderFailure::none && !e.sender.target_ip.empty()) {
    std::string owner = address_owner(e.sender.target_ip);
    if (!owner.empty()) {
      add_fact(fmt::format("{} {} → {} ({})",
                           e.sender.target_host.empty() ? e.sut_host : e.sender.target_host,
                           e.sender.target_ip.find(':') != std::string::npos ? "AAAA" : "A",
                           e.sender.target_ip, owner),
               "dns", "developers.cloudflare.com/dns/proxy-status (port 25 is not proxied)");
    }
  }

  // 2. The receiver's checks, in SMTP stage order; facts from their traces first.
  if (e.received) {
    for (const auto& [ref, result] : checks_in_order(e.checks)) {
      if (result->is(auth::Result::pass)) continue;
      for (const auto& step : result->trace) {
        if (step.kind != auth::TraceStep::Kind::query) continue;
        std::string text = step.text;
        if (annotate_addresses(text)) add_fact(text, "dns", ref.reference);
      }
      out.push_back({FindingKind::check, ref.name, std::string(result_name(result->result)),
                     check_text(ref.name, *result, e.checks, e.client_ip), ref.reference});
    }
  }

  // 3. The sender's own failure (no receiver verdict, or gave up after 4xx).
  if (e.sender.failure != SenderFailure::none) {
    out.push_back({FindingKind::check, "sut", std::string(to_string(e.sender.failure)),
                   sender_text(e),
                   e.sender.failure == SenderFailure::deferred_after_retries
                       ? "RFC 5321 §4.5.4.1"
                       : "RFC 5321 §5.1, §4.5.4.1"});
  }

  // 4. The receiver's verdict, in its own words.
  if (e.received && e.final_reply) {
    std::string rules;
    for (const auto& hit : e.rules) {
      rules += (rules.empty() ? "" : ", ") + hit.rule;
    }
    std::string text = fmt::format("{}: {}", e.persona, reply_summary(*e.final_reply));
    if (!e.receiver_disposition.empty() && e.final_reply->positive()) {
      text += " → " + e.receiver_disposition;
    }
    if (!rules.empty()) text += " (rules: " + rules + ")";
    std::string source = e.verdict_source;
    if (source.empty() && !e.rules.empty()) source = e.rules.back().source;
    out.push_back({FindingKind::verdict, "smtp", "", std::move(text), std::move(source)});
  }
  return out;
}

Outcome score_probe(const Evidence& e, const std::vector<FixRule>& table) {
  Outcome o;
  o.scenario = e.scenario;
  o.direction = e.direction;
  o.persona = e.persona;
  o.disposition = disposition_for(e);
  o.reply = e.final_reply;
  o.transcript = e.transcript;
  o.authentication_results = e.authentication_results;
  // Only a message *to* mail-tester gets its /10 mark; inbound, the SUT is the receiver.
  if (e.persona == "mailtester" && e.received && e.direction == Direction::outbound) {
    std::vector<Deduction> deductions;
    for (const auto& hit : e.rules) {
      // The persona adds points to 10 (negative = deduction); a Deduction is subtracted.
      deductions.push_back({hit.rule, -hit.points, hit.description, hit.source});
    }
    o.score = make_mailtester_score(std::move(deductions));
    // The persona's own mark wins: it states its formula openly (providers.md).
    if (e.receiver_score) o.score->value = *e.receiver_score;
  }
  o.findings = derive_findings(e);
  bool clean = o.disposition == Disposition::inbox &&
               std::none_of(o.findings.begin(), o.findings.end(),
                            [](const Finding& f) { return f.kind != FindingKind::verdict; });
  if (!clean) {
    FixVariables vars{{"domain", e.domain},
                      {"sut_host", e.sut_host},
                      {"host_label", host_label(e.sut_host, e.domain)},
                      {"client_ip", e.client_ip},
                      {"server_ip", e.server_ip},
                      {"target_ip", e.sender.target_ip},
                      {"target_host", e.sender.target_host}};
    o.fix = find_fix(o.findings, vars, table);
    if (o.fix) {
      o.findings.push_back({FindingKind::fix, "fix", "", o.fix->text, o.fix->reference});
    }
  }
  return o;
}

}  // namespace mailsim::score

namespace mailsim::score {

void add_delivery(Evidence& e, const mta::Delivery& d) {
  e.received = true;
  switch (d.disposition) {
    case personas::Disposition::inbox: e.receiver_disposition = "inbox"; break;
    case personas::Disposition::spam: e.receiver_disposition = "spam"; break;
    case personas::Disposition::rejected: e.receiver_disposition = "rejected"; break;
    case personas::Disposition::deferred: e.receiver_disposition = "deferred"; break;
  }
  if (d.final_reply.code != 0) e.final_reply = d.final_reply;
  e.checks = d.checks;
  if (!d.client_ip.empty()) e.client_ip = d.client_ip;
  e.rules.clear();
  for (const auto& hit : d.rules) {
    e.rules.push_back({hit.id, hit.points, hit.description, hit.source});
    // The rule that answered with the final reply is the verdict's source.
    if (!hit.reply.empty() && d.final_reply.code != 0 &&
        hit.reply.rfind(std::to_string(d.final_reply.code), 0) == 0) {
      e.verdict_source = hit.source;
    }
  }
  e.transcript.clear();
  for (const auto& line : d.transcript) {
    const char* prefix = line.who == smtp::Speaker::client   ? "C: "
                         : line.who == smtp::Speaker::server ? "S: "
                                                             : "* ";
    // A multi-line reply is one entry with '\n' inside: one transcript line per wire line.
    std::size_t start = 0;
    while (start <= line.text.size()) {
      auto nl = line.text.find('\n', start);
      std::string part = line.text.substr(start, nl == std::string::npos ? std::string::npos
                                                                         : nl - start);
      if (!part.empty() && part.back() == '\r') part.pop_back();
      e.transcript.push_back(prefix + part);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  if (!d.note.empty()) e.transcript.push_back("* " + d.note);
  e.authentication_results = d.authentication_results;
  if (d.persona == "mailtester") e.receiver_score = d.score;
}

}  // namespace mailsim::score
