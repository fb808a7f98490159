#include "mailsim/score/fixes.hpp"

#include <regex>

namespace mailsim::score {

// Rows are matched in order against each finding, earliest finding first; within one
// finding the first matching row wins, so specific rows (a Cloudflare address) come before
// general ones (any iprev failure). The guide is ../shared/reference/posteio-guide.md.
const std::vector<FixRule>& fix_table() {
  static const std::vector<FixRule> table = {
      // --- the sender could not speak SMTP at all --------------------------------------
      {"port25-blocked", "sut", "connect_timeout", "port 25",
       "ask your hosting provider to open outbound port 25 (or relay through a smarthost on "
       "port 587)",
       "posteio-guide §1 (many VPS providers block port 25); RFC 5321 §4.5.4.1"},
      {"proxy-inbound", "sut", "proxy_no_smtp", "",
       "in your DNS panel, set the cloud icon of `{host_label}` to DNS only",
       "posteio-guide §2 note (turn the Cloudflare proxy off); "
       "developers.cloudflare.com/dns/proxy-status"},
      {"connect-refused", "sut", "connect_refused", "",
       "start the mail server and let it listen on port 25 at {target_ip}",
       "RFC 5321 §4.5.4.1"},
      {"no-mx", "sut", "no_mx", "",
       "publish `MX @ {sut_host}` (priority 10) and `A {host_label} {server_ip}` for {domain}",
       "posteio-guide §2; RFC 5321 §5.1"},
      {"dns-failure", "sut", "dns_failure", "",
       "make your DNS provider answer for {domain}: its nameservers fail (SERVFAIL/timeout)",
       "RFC 5321 §5.1; RFC 2308"},
      {"deferred", "sut", "deferred_after_retries", "",
       "fix the cause the receiver named in its 4xx reply; the queue then drains by itself",
       "RFC 5321 §4.5.4.1"},
      // --- a Cloudflare (proxied) address anywhere in the chain is the root cause ---------
      {"proxy-on-mx", "", "",
       "(?:([a-z0-9-]+(?:\\.[a-z0-9-]+)+) (?:A|AAAA)|(?:A|AAAA) ([a-z0-9-]+(?:\\.[a-z0-9-]+)+))"
       "\\b.*\\(Cloudflare\\)",
       "in your DNS panel, set the cloud icon of `{host_label}` to DNS only",
       "posteio-guide §2 note; developers.cloudflare.com/dns/proxy-status"},
      // --- reverse DNS (RFC 8601 §3, RFC 1912 §2.1) ------------------------------------
      {"ptr-missing", "iprev", "permerror", "",
       "ask your hosting provider to set the rDNS (PTR) of {client_ip} to {sut_host}",
       "posteio-guide §3; RFC 8601 §2.7.3 (permerror: no PTR data)"},
      {"ptr-missing-text", "iprev", "", "no ptr|nxdomain|nodata",
       "ask your hosting provider to set the rDNS (PTR) of {client_ip} to {sut_host}",
       "posteio-guide §3; RFC 1912 §2.1"},
      {"ptr-mismatch", "iprev", "", "",
       "set the rDNS (PTR) of {client_ip} to {sut_host} and keep `A {host_label} {client_ip}`",
       "posteio-guide §3 (rDNS must equal the MX host name); RFC 8601 §3"},
      // --- DNS block lists (RFC 5782) -----------------------------------------------------
      {"dnsbl-listed", "dnsbl", "fail", "",
       "request delisting of {client_ip} at the list's lookup page, after making sure the "
       "server is no open relay",
       "RFC 5782 §2; www.spamhaus.org/lookup"},
      // --- HELO (RFC 5321 §4.1.1.1) -------------------------------------------------------
      {"helo-name", "helo", "", "",
       "set the server's host name to {sut_host} (hostnamectl set-hostname {sut_host})",
       "posteio-guide §4; RFC 5321 §4.1.1.1"},
      // --- SPF (RFC 7208) -----------------------------------------------------------------
      {"spf-too-many-lookups", "spf", "permerror", "lookup|limit|too many|more than 10|4\\.6\\.4",
       "flatten the SPF record of {domain} to at most 10 DNS-querying terms (ip4: instead "
       "of include:)",
       "RFC 7208 §4.6.4"},
      {"spf-two-records", "spf", "permerror", "multiple|two|more than one|\\b[2-9] spf records",
       "keep a single `v=spf1` TXT record at {domain}: merge the others into it",
       "RFC 7208 §4.5"},
      {"spf-missing", "spf", "none", "",
       "publish `TXT @ \"v=spf1 a mx -all\"` for {domain}",
       "posteio-guide §2; RFC 7208 §4.5"},
      {"spf-not-listed", "spf", "", "",
       "make the SPF record of {domain} cover {client_ip}: `v=spf1 a mx ip4:{client_ip} -all`",
       "posteio-guide §2; RFC 7208 §2.6"},
      {"spf-helo", "spf_helo", "", "",
       "publish `TXT {host_label} \"v=spf1 a -all\"` so the HELO name {sut_host} passes SPF",
       "posteio-guide §2 (sub-domain SPF); RFC 7208 §2.3"},
      // --- DKIM (RFC 6376) -----------------------------------------------------------------
      {"dkim-split-wrong", "dkim", "", "contains a quote|separator inside|\" \"",
       "re-enter the DKIM key as one unbroken value: the `\" \"` left between its halves is "
       "now part of the key (let the panel split it into 255-octet strings, or split it with "
       "nothing between the strings)",
       "posteio-guide §6; RFC 6376 §3.6.2.2 (strings are joined with no separator)"},
      {"dkim-truncated", "dkim", "", "truncat|255|bad key|key.*(invalid|corrupt|syntax)",
       "publish the complete DKIM key: paste the whole value (split into 255-octet strings "
       "with no spaces, if your panel asks)",
       "posteio-guide §6 (copy the whole DKIM value); RFC 6376 §3.6.2.2"},
      {"dkim-unpublished", "dkim", "", "no key|not found|nxdomain|no record|unpublished",
       "publish the DKIM TXT record the server generated at <selector>._domainkey.{domain}",
       "posteio-guide §6; RFC 6376 §3.6.2.1"},
      {"dkim-unsigned", "dkim", "none", "",
       "create a DKIM key for {domain} in the server (Virtual domains → DKIM) and publish it",
       "posteio-guide §6; RFC 6376 §3"},
      {"dkim-body", "dkim", "", "body hash",
       "stop rewriting messages after signing (footers, relays); sign at the last hop",
       "RFC 6376 §3.7"},
      // --- DMARC (RFC 7489) ---------------------------------------------------------------
      {"dmarc-missing", "dmarc", "none", "",
       "publish `TXT _dmarc \"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\"`",
       "posteio-guide §2; RFC 7489 §6.1"},
      {"dmarc-unaligned", "dmarc", "fail", "align",
       "send with a From: domain equal to the MAIL FROM or DKIM d= domain ({domain})",
       "RFC 7489 §3.1"},
      // --- any DNS answer that failed for now (SERVFAIL/timeout) --------------------------
      {"dns-temperror", "", "temperror", "",
       "make the DNS for {domain} answer: a lookup failed temporarily (SERVFAIL or timeout), so "
       "receivers defer; check the zone on your DNS provider",
       "RFC 7208 §2.6.6; RFC 6376 §6.1.2; RFC 7489 §6.6.3"},
      // --- transport and format -----------------------------------------------------------
      {"tls-missing", "tls", "", "",
       "enable STARTTLS on outbound delivery with a certificate for {sut_host}",
       "posteio-guide §5; RFC 3207; support.google.com/a/answer/81126"},
      {"content-format", "content", "", "",
       "send messages with exactly one From:, a Date: and a valid Message-ID:",
       "RFC 5322 §3.6; support.google.com/a/answer/81126"},
  };
  return table;
}

std::string expand_fix_template(const std::string& text, const FixVariables& variables,
                                const std::vector<std::string>& captures) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      auto close = text.find('}', i);
      if (close != std::string::npos) {
        std::string key = text.substr(i + 1, close - i - 1);
        bool numeric = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
        if (numeric) {
          auto n = static_cast<std::size_t>(std::stoul(key));
          if (n < captures.size()) {
            out += captures[n];
            i = close;
            continue;
          }
        } else if (auto it = variables.find(key); it != variables.end() && !it->second.empty()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

namespace {

bool rule_applies(const FixRule& rule, const Finding& finding, std::vector<std::string>& captures) {
  if (finding.kind == FindingKind::fix || finding.kind == FindingKind::verdict) return false;
  if (!rule.check.empty() && rule.check != finding.check) return false;
  if (!rule.result.empty() && rule.result != finding.result) return false;
  captures.clear();
  if (rule.pattern.empty()) {
    // A row without a pattern is about a failing check; facts need a pattern to match.
    if (finding.kind == FindingKind::fact && rule.check.empty()) return false;
    captures.push_back(finding.text);
    return true;
  }
  static thread_local std::map<std::string, std::regex> cache;
  auto it = cache.find(rule.pattern);
  if (it == cache.end()) {
    it = cache.emplace(rule.pattern,
                       std::regex(rule.pattern, std::regex::ECMAScript | std::regex::icase))
             .first;
  }
  std::smatch match;
  if (!std::regex_search(finding.text, match, it->second)) return false;
  for (const auto& group : match) captures.push_back(group.str());
  return true;
}

bool is_problem(const Finding& finding) {
  if (finding.kind == FindingKind::fact) return true;
  if (finding.check == "sut") return true;
  return finding.result == "fail" || finding.result == "permerror" ||
         finding.result == "temperror" || finding.result == "policy";
}

}  // namespace

std::optional<Fix> find_fix(const std::vector<Finding>& findings, const FixVariables& variables,
                            const std::vector<FixRule>& table) {
  // Two passes: hard problems (fail, permerror, a sender that could not connect) before
  // weaknesses (none, softfail, neutral), each in causal order. A missing sub-domain SPF
  // must not be offered as the fix when the DKIM key is broken.
  std::vector<std::string> captures;
  for (int pass = 0; pass < 2; ++pass) {
  for (const auto& finding : findings) {
    if (is_problem(finding) != (pass == 0)) continue;
    for (const auto& rule : table) {
      if (!rule_applies(rule, finding, captures)) continue;
      FixVariables vars = variables;
      // A host named in the matched text ("mx.nodeseek.com A → …") is the label to fix.
      std::string host;
      for (std::size_t i = 1; i < captures.size() && host.empty(); ++i) host = captures[i];
      if (!host.empty() && vars.count("domain")) {
        const std::string& domain = vars["domain"];
        if (host.size() > domain.size() + 1 && host.ends_with("." + domain)) {
          vars["host_label"] = host.substr(0, host.size() - domain.size() - 1);
        } else if (host == domain) {
          vars["host_label"] = "@";
        }
      }
      return Fix{rule.id, expand_fix_template(rule.fix, vars, captures), rule.reference};
    }
  }
  }
  return std::nullopt;
}

}  // namespace mailsim::score
