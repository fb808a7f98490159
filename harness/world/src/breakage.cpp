// The breakage catalogue: each entry is one thing that really goes wrong when a reader
// follows a self-hosting guide (../shared/reference/posteio-guide.md) or a DNS panel
// mangles it (../shared/reference/providers.md "Real-world failure facts").
#include "mailsim/world/breakage.hpp"

#include <algorithm>
#include <charconv>
#include <functional>

#include <fmt/core.h>
#include <fmt/format.h>

namespace mailsim::world {
namespace {

using Params = std::map<std::string, std::string>;

// Cloudflare's proxy address for proxied names (104.16.0.0/13 … per providers.md).
constexpr const char* kCloudflareAddress = "104.21.48.10";
constexpr const char* kCloudflareHost = "cloudflare-proxy";
constexpr const char* kSutIpv6 = "2a01:4f8:1:2::78";
constexpr const char* kHostingZone = "example-hosting.net";

// ---- names ------------------------------------------------------------------------------

const Host* sut_host(const World& w) {
  for (const auto& h : w.hosts())
    if (h.role == HostRole::sut) return &h;
  return nullptr;
}

std::string sut_domain(const World& w) {
  const Host* h = sut_host(w);
  if (!h) throw BreakageError("the world has no setup-under-test host to break");
  auto z = w.zone_for(h->name);
  if (!z) throw BreakageError(fmt::format("the SUT host {} lies outside every zone", h->name));
  return *z;
}

// Owner names are relative to the SUT domain, as in a DNS panel: "@" is the apex, "mx" is
// mx.nodeseek.com, "s1._domainkey" is s1._domainkey.nodeseek.com. A trailing dot, or a name
// already inside one of the world's zones (gmail.com, mx.nodeseek.com), is absolute.
std::string resolve_owner(const World& w, std::string_view name) {
  if (name.empty() || name == "@") return sut_domain(w);
  if (name.back() == '.') return canonical_name(name);
  std::string n = canonical_name(name);
  if (w.zone_for(n)) return n;
  return n + "." + sut_domain(w);
}

// Targets (PTR, CNAME, MX exchange) may point anywhere, also outside the world: a name
// with a dot is absolute, a bare label is relative to the SUT domain.
std::string resolve_target(const World& w, std::string_view name) {
  if (name == "@") return sut_domain(w);
  if (name.find('.') != std::string_view::npos) return canonical_name(name);
  return canonical_name(name) + "." + sut_domain(w);
}

// "server" is the SUT's first IPv4 address (the guide's 12.34.56.78).
std::string resolve_address(const World& w, std::string_view address) {
  if (address == "server") {
    const Host* h = sut_host(w);
    if (!h) throw BreakageError("address 'server': the world has no setup-under-test host");
    for (const auto& a : h->addresses)
      if (!is_ipv6(a)) return a;
    throw BreakageError(fmt::format("address 'server': host {} has no IPv4 address", h->name));
  }
  if (!is_ip_address(address))
    throw BreakageError(
        fmt::format("'{}' is not an IP address (or 'server' for the SUT's address)", address));
  return std::string(address);
}

Host& resolve_host(World& w, std::string_view name) {
  std::string n = resolve_owner(w, name);
  if (Host* h = w.host(n)) return *h;
  if (Host* h = w.host(name)) return *h;
  std::vector<std::string> names;
  for (const auto& h : w.hosts()) names.push_back(h.name);
  throw BreakageError(fmt::format("no host '{}' ({}) in the world; hosts: {}", name, n,
                                  fmt::join(names, ", ")));
}

void ensure_zone(World& w, std::string_view apex) {
  if (!w.zones().contains(canonical_name(apex))) w.add_zone(apex);
}

// The reverse zone of an address (/24 or /64), created if the world lacks it, so a missing
// PTR is NXDOMAIN rather than REFUSED.
void ensure_reverse_zone(World& w, std::string_view address) {
  std::string rev = reverse_name(address);
  if (w.zone_for(rev)) return;
  ensure_zone(w, rev.substr(is_ipv6(address) ? 32 : rev.find('.') + 1));
}

unsigned parse_uint(std::string_view breakage, std::string_view param, std::string_view text,
                    unsigned lo, unsigned hi) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
    throw BreakageError(fmt::format("{}: parameter '{}' must be a whole number from {} to {}, "
                                    "not '{}'",
                                    breakage, param, lo, hi, text));
  return v;
}

// ---- TXT presentation -------------------------------------------------------------------

// Parses a TXT value as typed into a panel: either one or more quoted character-strings
// ("a" "b", RFC 1035 §5.1, with \" and \DDD escapes) or bare text, which a correct panel
// splits into 255-octet strings itself.
std::vector<std::string> parse_txt_value(std::string_view breakage, std::string_view v) {
  std::size_t i = v.find_first_not_of(" \t");
  if (i == std::string_view::npos || v[i] != '"') return split_txt(v);
  std::vector<std::string> out;
  while (i < v.size()) {
    if (v[i] == ' ' || v[i] == '\t') {
      ++i;
      continue;
    }
    if (v[i] != '"')
      throw BreakageError(fmt::format("{}: TXT value has text outside quotes at column {}: {}",
                                      breakage, i + 1, v));
    std::string s;
    ++i;
    bool closed = false;
    while (i < v.size()) {
      char c = v[i++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && i < v.size()) {
        if (i + 2 < v.size() + 0 && std::isdigit(static_cast<unsigned char>(v[i])) &&
            std::isdigit(static_cast<unsigned char>(v[i + 1])) &&
            std::isdigit(static_cast<unsigned char>(v[i + 2]))) {
          s += static_cast<char>((v[i] - '0') * 100 + (v[i + 1] - '0') * 10 + (v[i + 2] - '0'));
          i += 3;
        } else {
          s += v[i++];
        }
        continue;
      }
      s += c;
    }
    if (!closed)
      throw BreakageError(fmt::format("{}: TXT value has an unclosed quote: {}", breakage, v));
    if (s.size() > 255)
      throw BreakageError(fmt::format(
          "{}: a TXT character-string holds at most 255 octets (RFC 1035 §3.3), this one has {}",
          breakage, s.size()));
    out.push_back(std::move(s));
  }
  return out;
}

// A record from panel-style (name, type, value) — value in presentation form.
Record parse_record(const World& w, std::string_view breakage, const Params& p) {
  std::string name = resolve_owner(w, p.at("name"));
  auto type = rr_type_from_string(p.at("type"));
  if (!type) {
    std::vector<std::string> names;
    for (auto t : all_rr_types()) names.emplace_back(to_string(t));
    throw BreakageError(fmt::format("{}: unknown record type '{}'; valid: {}", breakage,
                                    p.at("type"), fmt::join(names, ", ")));
  }
  const std::string& value = p.at("value");
  std::uint32_t ttl = parse_uint(breakage, "ttl", p.at("ttl"), 0, 2147483647);
  switch (*type) {
    case RrType::A:
      if (!is_ip_address(value) || is_ipv6(value))
        throw BreakageError(fmt::format("{}: A value '{}' is not an IPv4 address", breakage,
                                        value));
      return make_a(name, value, ttl);
    case RrType::AAAA:
      if (!is_ipv6(value))
        throw BreakageError(fmt::format("{}: AAAA value '{}' is not an IPv6 address", breakage,
                                        value));
      return make_aaaa(name, value, ttl);
    case RrType::MX: {
      // "10 mx.example.com." (RFC 1035 §3.3.9: preference, exchange)
      std::size_t sp = value.find(' ');
      if (sp == std::string::npos)
        throw BreakageError(fmt::format(
            "{}: MX value '{}' must be 'PREFERENCE EXCHANGE', e.g. '10 mx.nodeseek.com.'",
            breakage, value));
      unsigned pref = parse_uint(breakage, "value (MX preference)", value.substr(0, sp), 0, 65535);
      std::string exch = value.substr(value.find_first_not_of(' ', sp));
      return make_mx(name, static_cast<std::uint16_t>(pref), resolve_target(w, exch), ttl);
    }
    case RrType::TXT:
      return make_txt_strings(name, parse_txt_value(breakage, value), ttl);
    case RrType::PTR:
      return make_ptr(name, resolve_target(w, value), ttl);
    case RrType::CNAME:
      return make_cname(name, resolve_target(w, value), ttl);
    case RrType::NS:
      return make_ns(name, resolve_target(w, value), ttl);
    default: {
      Record r;
      r.name = name;
      r.type = *type;
      r.ttl = ttl;
      r.value = value;
      return r;
    }
  }
}

void add_record(World& w, Record r) {
  try {
    w.add(std::move(r));
  } catch (const std::invalid_argument& e) {
    throw BreakageError(e.what());
  }
}

// ---- SPF / DMARC / DKIM helpers ---------------------------------------------------------

std::size_t remove_txt_prefixed(World& w, const std::string& name, std::string_view prefix) {
  auto doomed = w.find_txt(name, prefix);
  if (doomed.empty()) return 0;
  auto all = w.find(name, RrType::TXT);
  w.remove(name, RrType::TXT);
  for (auto& r : all)
    if (std::find(doomed.begin(), doomed.end(), r) == doomed.end()) w.add(r);
  return doomed.size();
}

// The DKIM key records of the SUT domain: TXT at <selector>._domainkey.<domain> that look
// like a key (RFC 6376 §3.6.1: "v=DKIM1" or a p= tag).
std::vector<Record> dkim_records(const World& w, std::string_view selector) {
  std::string suffix = "._domainkey." + sut_domain(w);
  std::vector<Record> out;
  for (const auto& r : w.records()) {
    if (r.type != RrType::TXT || r.name.size() <= suffix.size() ||
        r.name.compare(r.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    if (!selector.empty() && r.name != std::string(selector) + suffix) continue;
    std::string t = r.text();
    if (t.find("p=") == std::string::npos && t.rfind("v=DKIM1", 0) != 0) continue;
    out.push_back(r);
  }
  return out;
}

std::vector<Record> require_dkim(const World& w, std::string_view breakage,
                                 std::string_view selector) {
  auto recs = dkim_records(w, selector);
  if (recs.empty())
    throw BreakageError(fmt::format(
        "{}: no DKIM key record{} under _domainkey.{} to break; the setup under test "
        "publishes it at the publish stage (guide §6)",
        breakage, selector.empty() ? "" : fmt::format(" for selector '{}'", selector),
        sut_domain(w)));
  return recs;
}

void replace_exact(World& w, const Record& old_record, Record new_record) {
  auto all = w.find(old_record.name, old_record.type);
  w.remove(old_record.name, old_record.type);
  for (auto& r : all) w.add(r == old_record ? new_record : r);
}

// ---- the catalogue ----------------------------------------------------------------------

using ApplyFn = std::function<void(World&, const Params&)>;

struct Entry {
  BreakageInfo info;
  ApplyFn apply;
  // Extra value checks that need no world (run by validate_breakage).
  std::function<void(const Params&)> check;
};

void check_kind(const Params& p) {
  if (!dns_fault_from_string(p.at("kind")))
    throw BreakageError(fmt::format(
        "dns.fault: unknown kind '{}'; valid: servfail, timeout, tc, refused", p.at("kind")));
}

void check_type_optional(std::string_view breakage, const std::string& type) {
  if (type.empty() || rr_type_from_string(type)) return;
  std::vector<std::string> names;
  for (auto t : all_rr_types()) names.emplace_back(to_string(t));
  throw BreakageError(fmt::format("{}: unknown record type '{}'; valid: {}", breakage, type,
                                  fmt::join(names, ", ")));
}

void check_address(std::string_view breakage, const std::string& a) {
  if (a != "server" && !is_ip_address(a))
    throw BreakageError(fmt::format(
        "{}: parameter 'address' must be an IP address or 'server', not '{}'", breakage, a));
}

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = [] {
    std::vector<Entry> v;
    auto add = [&](std::string name, BreakageStage stage, std::string models,
                   std::vector<BreakageParam> params, ApplyFn fn,
                   std::function<void(const Params&)> check = {}) {
      v.push_back({{std::move(name), stage, std::move(models), std::move(params)},
                   std::move(fn), std::move(check)});
    };
    const BreakageParam at_name{"name", "owner name, relative to the domain ('@' = apex)", "@"};

    add("spf.set", BreakageStage::world,
        "The SPF record was edited to a different policy (e.g. ~all, or missing the server).",
        {at_name, {"value", "the new SPF record text, e.g. 'v=spf1 mx ~all'", ""}},
        [](World& w, const Params& p) {
          std::string n = resolve_owner(w, p.at("name"));
          remove_txt_prefixed(w, n, "v=spf1");
          add_record(w, make_txt(n, p.at("value")));
        },
        [](const Params& p) {
          if (p.at("value").rfind("v=spf1", 0) != 0)
            throw BreakageError(fmt::format(
                "spf.set: value must start with 'v=spf1' (RFC 7208 §4.5), not '{}'; use "
                "record.replace for arbitrary TXT",
                p.at("value")));
        });
    add("spf.remove", BreakageStage::world,
        "The SPF record was never published (guide §2 row 'TXT @' skipped).", {at_name},
        [](World& w, const Params& p) {
          std::string n = resolve_owner(w, p.at("name"));
          if (remove_txt_prefixed(w, n, "v=spf1") == 0)
            throw BreakageError(fmt::format("spf.remove: {} has no SPF record to remove", n));
        });
    add("spf.add", BreakageStage::world,
        "A second SPF record was added next to the first (two v=spf1 records: permerror, "
        "RFC 7208 §4.5).",
        {at_name, {"value", "the extra SPF record", "v=spf1 include:_spf.mx.cloudflare.net ~all"}},
        [](World& w, const Params& p) {
          add_record(w, make_txt(resolve_owner(w, p.at("name")), p.at("value")));
        });
    add("ptr.remove", BreakageStage::world,
        "The hosting provider's rDNS was never set (guide §3 skipped): no PTR for the IP.",
        {{"address", "the IP whose PTR goes; 'server' = the SUT's IPv4", "server"}},
        [](World& w, const Params& p) {
          std::string a = resolve_address(w, p.at("address"));
          ensure_reverse_zone(w, a);
          if (w.remove(reverse_name(a), RrType::PTR) == 0)
            throw BreakageError(fmt::format("ptr.remove: {} has no PTR to remove", a));
        },
        [](const Params& p) { check_address("ptr.remove", p.at("address")); });
    add("ptr.set", BreakageStage::world,
        "The rDNS was set to some other name than the MX host (guide §3: it must match).",
        {{"address", "the IP; 'server' = the SUT's IPv4", "server"},
         {"name", "the PTR target (a bare label is relative to the domain)", ""}},
        [](World& w, const Params& p) {
          std::string a = resolve_address(w, p.at("address"));
          ensure_reverse_zone(w, a);
          w.remove(reverse_name(a), RrType::PTR);
          add_record(w, make_ptr(reverse_name(a), resolve_target(w, p.at("name"))));
        },
        [](const Params& p) { check_address("ptr.set", p.at("address")); });
    add("rdns.mismatch", BreakageStage::world,
        "rDNS left at the hosting provider's default name: it resolves forward (FCrDNS "
        "passes) but is not the MX host the guide asks for (§3).",
        {{"address", "the IP; 'server' = the SUT's IPv4", "server"},
         {"name", "the provider-style PTR name; '' = <reversed-ip>.vps.example-hosting.net", "",
          true}},
        [](World& w, const Params& p) {
          std::string a = resolve_address(w, p.at("address"));
          std::string target = p.at("name");
          if (target.empty()) {
            std::string rev = reverse_name(a);
            target = rev.substr(0, rev.rfind(is_ipv6(a) ? ".ip6.arpa" : ".in-addr.arpa")) +
                     ".vps." + kHostingZone;
          }
          target = canonical_name(target);
          ensure_reverse_zone(w, a);
          w.remove(reverse_name(a), RrType::PTR);
          add_record(w, make_ptr(reverse_name(a), target));
          // Forward-confirm it, as hosting providers do for their default names.
          if (!w.zone_for(target)) ensure_zone(w, kHostingZone);
          if (w.zone_for(target))
            add_record(w, is_ipv6(a) ? make_aaaa(target, a) : make_a(target, a));
        },
        [](const Params& p) { check_address("rdns.mismatch", p.at("address")); });
    add("dkim.truncate", BreakageStage::publish,
        "The DNS panel cut the DKIM key at 255 characters (a 2048-bit key is ~400): the "
        "key no longer parses.",
        {{"at", "how many characters survive", "255"},
         {"selector", "only this selector; '' = every DKIM key of the domain", "", true}},
        [](World& w, const Params& p) {
          auto at = parse_uint("dkim.truncate", "at", p.at("at"), 1, 65535);
          for (const auto& r : require_dkim(w, "dkim.truncate", p.at("selector"))) {
            std::string t = r.text().substr(0, at);
            replace_exact(w, r, make_txt(r.name, t, r.ttl));
          }
        },
        [](const Params& p) { parse_uint("dkim.truncate", "at", p.at("at"), 1, 65535); });
    add("dkim.split_space", BreakageStage::publish,
        "The long DKIM key was pasted as two quoted halves into one panel field, so the "
        "published key contains '\" \"' and no longer decodes.",
        {{"at", "where the key was split (characters)", "255"},
         {"mode", "quotes = the literal '\" \"' a panel keeps; space = a lone space, which "
                  "RFC 6376 §3.6.1 tolerates in p=",
          "quotes"},
         {"selector", "only this selector; '' = every DKIM key of the domain", "", true}},
        [](World& w, const Params& p) {
          auto at = parse_uint("dkim.split_space", "at", p.at("at"), 1, 65535);
          std::string glue = p.at("mode") == "space" ? " " : "\" \"";
          for (const auto& r : require_dkim(w, "dkim.split_space", p.at("selector"))) {
            std::string t = r.text();
            if (at >= t.size())
              throw BreakageError(fmt::format(
                  "dkim.split_space: the key record has {} characters, cannot split at {}",
                  t.size(), at));
            replace_exact(w, r, make_txt(r.name, t.substr(0, at) + glue + t.substr(at), r.ttl));
          }
        },
        [](const Params& p) {
          parse_uint("dkim.split_space", "at", p.at("at"), 1, 65535);
          if (p.at("mode") != "quotes" && p.at("mode") != "space")
            throw BreakageError(fmt::format(
                "dkim.split_space: unknown mode '{}'; valid: quotes, space", p.at("mode")));
        });
    add("dkim.unpublished", BreakageStage::publish,
        "The DKIM key the server generated was never added to DNS (guide §6/§7 skipped, "
        "e.g. for a second domain).",
        {{"selector", "only this selector; '' = every DKIM key of the domain", "", true}},
        [](World& w, const Params& p) {
          for (const auto& r : dkim_records(w, p.at("selector"))) {
            auto all = w.find(r.name, RrType::TXT);
            w.remove(r.name, RrType::TXT);
            for (auto& x : all)
              if (!(x == r)) w.add(x);
          }
        });
    add("proxy.on", BreakageStage::world,
        "Cloudflare's proxy (orange cloud) was left on for the mail host: its A record now "
        "points at Cloudflare, which carries no SMTP (guide §2 note).",
        {{"name", "the proxied name (relative to the domain)", "mx"}},
        [](World& w, const Params& p) {
          std::string n = resolve_owner(w, p.at("name"));
          if (w.find(n, RrType::A).empty())
            throw BreakageError(fmt::format(
                "proxy.on: {} has no A record; Cloudflare proxies only A/AAAA/CNAME names", n));
          w.remove(n, RrType::A);
          w.remove(n, RrType::AAAA);
          add_record(w, make_a(n, kCloudflareAddress));
          if (!w.host(kCloudflareHost)) {
            Host proxy;
            proxy.name = kCloudflareHost;
            proxy.role = HostRole::proxy;
            proxy.addresses = {kCloudflareAddress};
            proxy.open_ports = {80, 443};  // Cloudflare does not proxy port 25
            w.add_host(std::move(proxy));
          }
        });
    add("port25.blocked", BreakageStage::world,
        "The VPS provider blocks outbound port 25 (guide §1: ask support to unblock it).",
        {{"host", "the host whose egress is blocked (relative to the domain)", "mx"},
         {"port", "the blocked port", "25"}},
        [](World& w, const Params& p) {
          auto port = parse_uint("port25.blocked", "port", p.at("port"), 1, 65535);
          resolve_host(w, p.at("host")).blocked_egress_ports.insert(
              static_cast<std::uint16_t>(port));
        },
        [](const Params& p) { parse_uint("port25.blocked", "port", p.at("port"), 1, 65535); });
    add("dmarc.set", BreakageStage::world,
        "The DMARC record was edited (a different policy, or a typo).",
        {{"value", "the new DMARC record, e.g. 'v=DMARC1; p=none'", ""}},
        [](World& w, const Params& p) {
          std::string n = "_dmarc." + sut_domain(w);
          remove_txt_prefixed(w, n, "v=DMARC1");
          add_record(w, make_txt(n, p.at("value")));
        });
    add("dmarc.remove", BreakageStage::world,
        "No DMARC record was published (guide §2 row '_dmarc' skipped).", {},
        [](World& w, const Params&) {
          std::string n = "_dmarc." + sut_domain(w);
          if (remove_txt_prefixed(w, n, "v=DMARC1") == 0)
            throw BreakageError(fmt::format("dmarc.remove: {} has no DMARC record", n));
        });
    add("root_a.remove", BreakageStage::world,
        "The bare domain resolves nowhere (the guide §2 note's root A record was skipped).", {},
        [](World& w, const Params&) {
          std::string d = sut_domain(w);
          w.remove(d, RrType::A);
          w.remove(d, RrType::AAAA);
        });
    const BreakageParam rec_name{"name", "owner name (relative to the domain; '@' = apex)", ""};
    const BreakageParam rec_type{"type", "record type: A, AAAA, MX, TXT, PTR, CNAME, …", ""};
    const BreakageParam rec_ttl{"ttl", "TTL in seconds", "3600"};
    add("record.add", BreakageStage::world, "Someone added an extra DNS record.",
        {rec_name, rec_type, {"value", "rdata in presentation form; TXT may be quoted strings", ""},
         rec_ttl},
        [](World& w, const Params& p) { add_record(w, parse_record(w, "record.add", p)); },
        [](const Params& p) { check_type_optional("record.add", p.at("type")); });
    add("record.replace", BreakageStage::world,
        "A DNS record was changed to another value (all records of that name and type).",
        {rec_name, rec_type, {"value", "rdata in presentation form; TXT may be quoted strings", ""},
         rec_ttl},
        [](World& w, const Params& p) {
          Record r = parse_record(w, "record.replace", p);
          w.remove(r.name, r.type);
          add_record(w, std::move(r));
        },
        [](const Params& p) { check_type_optional("record.replace", p.at("type")); });
    add("record.remove", BreakageStage::world, "A DNS record was deleted.",
        {rec_name, rec_type, {"value", "only the record with this rdata; '' = all of the type", "", true}},
        [](World& w, const Params& p) {
          std::string n = resolve_owner(w, p.at("name"));
          auto type = *rr_type_from_string(p.at("type"));
          if (p.at("value").empty()) {
            if (w.remove(n, type) == 0)
              throw BreakageError(fmt::format("record.remove: no {} record at {}", p.at("type"), n));
            return;
          }
          Params full = p;
          full["ttl"] = "3600";
          Record target = parse_record(w, "record.remove", full);
          auto all = w.find(n, type);
          std::size_t before = all.size();
          std::erase_if(all, [&](const Record& r) {
            return r.rdata_presentation() == target.rdata_presentation();
          });
          if (all.size() == before)
            throw BreakageError(fmt::format("record.remove: no {} record at {} with value {}",
                                            p.at("type"), n, p.at("value")));
          w.remove(n, type);
          for (auto& r : all) w.add(r);
        },
        [](const Params& p) { check_type_optional("record.remove", p.at("type")); });
    add("dns.fault", BreakageStage::world,
        "The authoritative DNS misbehaves for a name: SERVFAIL, no answer, truncation or "
        "REFUSED (DNS errors become temperror/permerror, RFC 7208 §2.6.6).",
        {{"name", "owner name (relative to the domain)", ""},
         {"type", "only this record type; '' = every type", "", true},
         {"kind", "servfail | timeout | tc | refused", "servfail"}},
        [](World& w, const Params& p) {
          DnsFault f;
          f.name = resolve_owner(w, p.at("name"));
          if (!p.at("type").empty()) f.type = rr_type_from_string(p.at("type"));
          f.kind = *dns_fault_from_string(p.at("kind"));
          w.add_fault(std::move(f));
        },
        [](const Params& p) {
          check_kind(p);
          check_type_optional("dns.fault", p.at("type"));
        });
    add("dnsbl.listed", BreakageStage::world,
        "The server's IP is on a DNS block list (a previous tenant of the VPS IP sent spam).",
        {{"address", "the listed IP; 'server' = the SUT's IPv4", "server"},
         {"code", "the A record the list returns (127.0.0.x)", "127.0.0.2"},
         {"zone", "the DNSBL zone", "zen.spamhaus.org"},
         {"reason", "the TXT reason; '' = a Spamhaus-style lookup URL", "", true}},
        [](World& w, const Params& p) {
          std::string a = resolve_address(w, p.at("address"));
          std::string zone = canonical_name(p.at("zone"));
          ensure_zone(w, zone);
          // RFC 5782 §2.1 (IPv4: reversed octets) and §2.4 (IPv6: reversed nibbles).
          std::string rev = reverse_name(a);
          rev = rev.substr(0, rev.rfind(is_ipv6(a) ? ".ip6.arpa" : ".in-addr.arpa"));
          std::string owner = rev + "." + zone;
          add_record(w, make_a(owner, p.at("code")));
          std::string reason = p.at("reason").empty()
                                   ? fmt::format("https://check.spamhaus.org/listed/?searchterm={}", a)
                                   : p.at("reason");
          add_record(w, make_txt(owner, reason));
        },
        [](const Params& p) {
          check_address("dnsbl.listed", p.at("address"));
          const auto& c = p.at("code");
          if (!is_ip_address(c) || is_ipv6(c) || c.rfind("127.", 0) != 0)
            throw BreakageError(fmt::format(
                "dnsbl.listed: code '{}' must be an IPv4 address in 127.0.0.0/8 (RFC 5782 §2.1)",
                c));
        });
    add("tls.off", BreakageStage::world,
        "The server has no certificate (guide §5 skipped), so it neither offers nor uses "
        "STARTTLS.",
        {{"host", "the host (relative to the domain)", "mx"}},
        [](World& w, const Params& p) { resolve_host(w, p.at("host")).starttls = false; });
    add("ipv6.add", BreakageStage::world,
        "The server got an IPv6 address and AAAA record but no IPv6 PTR, so mail leaves over "
        "IPv6 without reverse DNS.",
        {{"address", "the server's IPv6 address", kSutIpv6},
         {"name", "the name that gets the AAAA", "mx"}},
        [](World& w, const Params& p) {
          std::string a = make_aaaa("x", p.at("address")).value;
          std::string n = resolve_owner(w, p.at("name"));
          Host& h = resolve_host(w, p.at("name"));
          add_record(w, make_aaaa(n, a));
          if (std::find(h.addresses.begin(), h.addresses.end(), a) == h.addresses.end())
            h.addresses.push_back(a);
          ensure_reverse_zone(w, a);  // the reverse zone exists; the PTR does not
          w.remove(reverse_name(a), RrType::PTR);
        },
        [](const Params& p) {
          if (!is_ipv6(p.at("address")))
            throw BreakageError(fmt::format("ipv6.add: '{}' is not an IPv6 address",
                                            p.at("address")));
        });
    std::sort(v.begin(), v.end(),
              [](const Entry& a, const Entry& b) { return a.info.name < b.info.name; });
    return v;
  }();
  return table;
}

const Entry* find_entry(std::string_view name) {
  for (const auto& e : entries())
    if (e.info.name == name) return &e;
  return nullptr;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Parameters with defaults filled in; throws for unknown or missing ones.
Params complete_params(const Entry& e, const Breakage& b) {
  std::vector<std::string> valid;
  for (const auto& p : e.info.params) valid.push_back(p.name);
  for (const auto& [k, value] : b.params)
    if (std::find(valid.begin(), valid.end(), k) == valid.end())
      throw BreakageError(fmt::format("{}: unknown parameter '{}'; valid: {}", b.name, k,
                                      valid.empty() ? "(none)" : fmt::format("{}", fmt::join(valid, ", "))));
  Params out;
  for (const auto& p : e.info.params) {
    auto it = b.params.find(p.name);
    if (it != b.params.end()) {
      out[p.name] = it->second;
    } else {
      if (p.default_value.empty() && !p.optional)
        throw BreakageError(fmt::format("{}: missing parameter '{}' ({})", b.name, p.name,
                                        p.description));
      out[p.name] = p.default_value;
    }
  }
  return out;
}

const Entry& require_entry(std::string_view name) {
  if (const Entry* e = find_entry(name)) return *e;
  std::vector<std::string> names;
  std::string closest;
  std::size_t best = 3;  // suggest only near misses
  for (const auto& e : entries()) {
    names.push_back(e.info.name);
    std::size_t d = edit_distance(name, e.info.name);
    if (d < best) {
      best = d;
      closest = e.info.name;
    }
  }
  std::string msg = fmt::format("unknown breakage '{}'; valid: {}", name, fmt::join(names, ", "));
  if (!closest.empty()) msg += fmt::format(" (did you mean '{}'?)", closest);
  throw BreakageError(msg);
}

}  // namespace

const std::vector<BreakageInfo>& breakage_catalog() {
  static const std::vector<BreakageInfo> infos = [] {
    std::vector<BreakageInfo> v;
    for (const auto& e : entries()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

const BreakageInfo* find_breakage(std::string_view name) {
  const Entry* e = find_entry(name);
  return e ? &e->info : nullptr;
}

void validate_breakage(const Breakage& breakage) {
  const Entry& e = require_entry(breakage.name);
  Params p = complete_params(e, breakage);
  if (e.check) e.check(p);
}

void apply_breakage(World& world, const Breakage& breakage) {
  const Entry& e = require_entry(breakage.name);
  Params p = complete_params(e, breakage);
  if (e.check) e.check(p);
  e.apply(world, p);
}

void apply_breakages(World& world, const std::vector<Breakage>& breakages, BreakageStage stage) {
  for (const auto& b : breakages) {
    const Entry& e = require_entry(b.name);
    if (e.info.stage == stage) apply_breakage(world, b);
  }
}

}  // namespace mailsim::world
