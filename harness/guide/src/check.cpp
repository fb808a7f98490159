// The World a guide's reader ends up with, and the reviewer's checks over it. Every finding
// names the table row (guide line) to blame, the rule it rests on, and the smallest fix
// phrased as an edit of that row.
#include "mailsim/guide/check.hpp"
#include "mailsim/world/text.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mailsim/auth/spf.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/baseline.hpp"

namespace mailsim::guide {
namespace {

using world::RrType;

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

using world::lower;

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  return lower(text.substr(0, prefix.size())) == lower(prefix);
}

// Replaces every case-insensitive occurrence of `from` by `to`.
std::string replace_all_ci(const std::string& text, const std::string& from, const std::string& to) {
  if (from.empty() || from == to) return text;
  std::string lt = lower(text), lf = lower(from), out;
  std::size_t pos = 0;
  while (true) {
    std::size_t hit = lt.find(lf, pos);
    if (hit == std::string::npos) break;
    out.append(text, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(text, pos);
  return out;
}

// A table's host cell → owner name: "@" is the apex, "mx" is relative, a name ending in the
// domain (or with a trailing dot) is absolute — what DNS panels do with their host field.
std::string owner_name(std::string host, const std::string& zone) {
  host = lower(trim(host));
  if (host.empty() || host == "@") return zone;
  if (host.back() == '.') return world::canonical_name(host);
  if (host == zone || world::name_in_zone(host, zone)) return host;
  return host + "." + zone;
}

// A DKIM row the guide shows with a made-up selector or key ("s2025xxxxxxx", "p=MIIB…xxx…"):
// the reader copies the real one from the server (guide §6), so it is not a record as such.
bool is_placeholder(const GuideRow& row) {
  std::string s = lower(row.host + " " + row.value);
  return s.find("xxx") != std::string::npos || s.find("...") != std::string::npos ||
         s.find("\xE2\x80\xA6") != std::string::npos /* … */ ||
         s.find("your_") != std::string::npos || s.find("<") != std::string::npos;
}

// TXT cell → character-strings: `"a" "b"` as written, else the whole cell as one string.
std::vector<std::string> txt_strings(const std::string& value) {
  std::vector<std::string> out;
  std::string v = trim(value);
  if (v.size() >= 2 && v.front() == '"') {
    static const std::regex quoted(R"re("((?:[^"\\]|\\.)*)")re");
    for (auto it = std::sregex_iterator(v.begin(), v.end(), quoted); it != std::sregex_iterator(); ++it)
      out.push_back((*it)[1]);
    if (!out.empty()) return out;
  }
  out.push_back(v);
  return out;
}

// DMARC tag list (RFC 7489 §6.4): "v=DMARC1; p=reject; rua=mailto:a@b" → {tag: value}.
std::map<std::string, std::string> dmarc_tags(const std::string& text) {
  std::map<std::string, std::string> tags;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t semi = text.find(';', pos);
    std::string part = trim(text.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos));
    if (auto eq = part.find('='); eq != std::string::npos)
      tags[lower(trim(part.substr(0, eq)))] = trim(part.substr(eq + 1));
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  return tags;
}

// "mailto:a@b.com!10m, mailto:c@d" → {"a@b.com", "c@d"} (RFC 7489 §6.2 URI list).
std::vector<std::string> mailto_addresses(const std::string& uris) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < uris.size()) {
    std::size_t comma = uris.find(',', pos);
    std::string u = trim(uris.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (starts_with_ci(u, "mailto:")) {
      u = u.substr(7);
      if (auto bang = u.find('!'); bang != std::string::npos) u = u.substr(0, bang);
      out.push_back(lower(u));
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Organizational domain, simply: the last two labels. Good enough to tell "same domain" for
// RFC 7489 §7.1 on the guide's own names; the DMARC check proper uses the PSL.
std::string last_two_labels(const std::string& name) {
  auto last = name.rfind('.');
  if (last == std::string::npos || last == 0) return name;
  auto prev = name.rfind('.', last - 1);
  return prev == std::string::npos ? name : name.substr(prev + 1);
}

struct Builder {
  const ParsedGuide& guide;
  GuideCheck& out;
  // Rows as resolved, with everything the checks need.
  struct Row {
    const GuideRow* src;
    TableKind kind;
    std::string zone;   // the domain the table is for
    std::string type;   // upper-case
    std::string owner;  // canonical owner name
    std::string value;  // after placeholder substitution
    bool placeholder = false;
    bool added = false;
  };
  std::vector<Row> rows;

  void find(Severity sev, std::string id, const GuideRow* row, int line, std::string text,
            std::string reference, std::string fix) {
    GuideFinding f{sev, std::move(id), row ? row->line : line, row ? row->source : "",
                   std::move(text), std::move(reference), std::move(fix)};
    if (!row && line > 0)
      for (const auto& p : guide.prose)
        if (p.line == line) f.row = p.text;
    out.findings.push_back(std::move(f));
  }

  std::string subst(const std::string& s) const {
    std::string v = replace_all_ci(s, out.names.guide_domain, out.names.domain);
    return replace_all_ci(v, out.names.guide_ip, out.names.ip);
  }

  std::vector<const Row*> rows_at(const std::string& owner, const std::string& type) const {
    std::vector<const Row*> v;
    for (const auto& r : rows)
      if (r.owner == owner && r.type == type) v.push_back(&r);
    return v;
  }
  const Row* txt_at(const std::string& owner, std::string_view prefix) const {
    for (const auto& r : rows)
      if (r.owner == owner && r.type == "TXT" && starts_with_ci(trim(r.value), prefix)) return &r;
    return nullptr;
  }
};

}  // namespace

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::error: return "error";
    case Severity::warning: return "warning";
    case Severity::note: return "note";
  }
  return "?";
}

int GuideCheck::errors() const {
  return static_cast<int>(std::count_if(findings.begin(), findings.end(),
                                        [](const auto& f) { return f.severity == Severity::error; }));
}
int GuideCheck::warnings() const {
  return static_cast<int>(std::count_if(findings.begin(), findings.end(),
                                        [](const auto& f) { return f.severity == Severity::warning; }));
}

GuideCheck check_guide(const ParsedGuide& guide, const GuideOptions& options) {
  const std::string where = guide.file.empty() ? "<guide>" : guide.file;
  if (guide.tables.empty())
    throw GuideError(fmt::format(
        "{}: no DNS record table found (a markdown table needs a type, a host and a value "
        "column, e.g. | 记录类型 | 主机名 | 内容 | or | Type | Host | Value |)",
        where));
  GuideCheck out;
  out.guide = guide;
  GuideNames& n = out.names;
  n.guide_domain = guide.domain;
  n.guide_ip = guide.ip;
  n.domain = world::canonical_name(options.domain.empty() ? guide.domain : options.domain);
  n.ip = options.ip.empty() ? guide.ip : options.ip;
  if (n.domain.empty())
    throw GuideError(fmt::format("{}: cannot tell the guide's example domain (no MX row names a "
                                 "host); give --domain",
                                 where));
  if (n.ip.empty() || !world::is_ip_address(n.ip) || world::is_ipv6(n.ip))
    throw GuideError(fmt::format("{}: cannot tell the server's IPv4 address (no A row, no rDNS "
                                 "sentence with an address); give --ip",
                                 where));

  Builder b{guide, out, {}};

  // Second-domain tables: the domain their DMARC rua names, else the option, else example.com.
  for (const auto& t : guide.tables) {
    if (t.kind != TableKind::second_domain || !n.second_domain.empty()) continue;
    n.second_domain = world::canonical_name(options.second_domain);
    if (n.second_domain.empty())
      for (const auto& r : t.rows)
        for (const auto& mb : mailto_addresses(dmarc_tags(r.value)["rua"]))
          if (auto at = mb.find('@'); at != std::string::npos && n.second_domain.empty() &&
                                      mb.substr(at + 1) != lower(guide.domain))
            n.second_domain = mb.substr(at + 1);
    if (n.second_domain.empty()) n.second_domain = "example.com";
  }

  for (const auto& t : guide.tables) {
    std::string zone = t.kind == TableKind::primary ? n.domain : n.second_domain;
    for (const auto& r : t.rows) {
      Builder::Row row{&r, t.kind, zone, [&] {
                         std::string ty = trim(r.type);
                         for (auto& c : ty) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                         return ty;
                       }(),
                       "", trim(b.subst(r.value))};
      row.owner = owner_name(b.subst(r.host), zone);
      row.placeholder = row.type == "TXT" && row.owner.find("._domainkey") != std::string::npos &&
                        is_placeholder(r);
      b.rows.push_back(std::move(row));
    }
  }

  // The primary MX host (what rDNS and HELO must name).
  for (const auto& r : b.rows)
    if (r.kind == TableKind::primary && r.type == "MX" && n.mx_host.empty()) {
      std::string v = lower(r.value);
      if (auto sp = v.find_last_of(" \t"); sp != std::string::npos) v = v.substr(sp + 1);
      n.mx_host = owner_name(v.back() == '.' ? v : v + ".", n.domain);
    }

  // --- the world: personas from the baseline, the SUT zone purely from the rows ----------
  world::BaselineOptions bo;
  bo.domain = n.domain;
  bo.server_ipv4 = n.ip;
  bo.root_a = false;
  std::string sut_host = n.mx_host.empty() ? "mx." + n.domain : n.mx_host;
  if (world::name_in_zone(sut_host, n.domain) && sut_host != n.domain)
    bo.mx_label = sut_host.substr(0, sut_host.size() - n.domain.size() - 1);
  world::World w = world::guide_baseline(bo);
  {
    std::set<std::string> names;
    for (const auto& rec : w.records())
      if (world::name_in_zone(rec.name, n.domain)) names.insert(rec.name);
    for (const auto& name : names)
      for (auto type : {RrType::A, RrType::AAAA, RrType::MX, RrType::TXT, RrType::CNAME, RrType::PTR})
        w.remove(name, type);
    w.remove(world::reverse_name(n.ip), RrType::PTR);
  }
  if (!n.second_domain.empty() && !w.zone_for(n.second_domain).has_value()) w.add_zone(n.second_domain);
  if (!n.second_domain.empty() && w.zone_for(n.second_domain) != n.second_domain)
    w.add_zone(n.second_domain);

  for (auto& r : b.rows) {
    const GuideRow* src = r.src;
    if (r.placeholder) continue;  // the SUT publishes the real key at run time (guide §6)
    world::Record rec;
    try {
      if (r.type == "A") {
        if (!world::is_ip_address(r.value) || world::is_ipv6(r.value)) {
          b.find(Severity::error, "row.bad-address", src, 0,
                 fmt::format("A record value '{}' is not an IPv4 address", r.value),
                 "RFC 1035 §3.4.1", "write the server's IPv4 address in the value column");
          continue;
        }
        rec = world::make_a(r.owner, r.value);
      } else if (r.type == "AAAA") {
        if (!world::is_ipv6(r.value)) {
          b.find(Severity::error, "row.bad-address", src, 0,
                 fmt::format("AAAA record value '{}' is not an IPv6 address", r.value),
                 "RFC 3596 §2.2", "write the server's IPv6 address in the value column");
          continue;
        }
        rec = world::make_aaaa(r.owner, r.value);
      } else if (r.type == "MX") {
        // Preference: "10 mx.example.com" in the value, a priority column, or "优先级 10".
        static const std::regex pref_re(R"((?:优先级|priority|pref(?:erence)?)\s*[:：]?\s*(\d+))",
                                        std::regex::icase);
        std::uint16_t pref = 10;
        std::string target = r.value;
        std::smatch m;
        if (auto sp = target.find(' '); sp != std::string::npos &&
                                        std::all_of(target.begin(), target.begin() + static_cast<long>(sp), ::isdigit)) {
          pref = static_cast<std::uint16_t>(std::stoi(target.substr(0, sp)));
          target = trim(target.substr(sp + 1));
        } else if (!src->priority.empty() && std::all_of(src->priority.begin(), src->priority.end(), ::isdigit)) {
          pref = static_cast<std::uint16_t>(std::stoi(src->priority));
        } else if (std::regex_search(src->note, m, pref_re)) {
          pref = static_cast<std::uint16_t>(std::stoi(m[1]));
        }
        rec = world::make_mx(r.owner, pref, owner_name(target.back() == '.' ? target : target + ".", r.zone));
        r.value = rec.value;
      } else if (r.type == "TXT") {
        auto strings = txt_strings(r.value);
        r.value.clear();
        for (const auto& s : strings) r.value += s;
        if (strings.size() == 1 && strings[0].size() > 255) {
          bool dkim = r.owner.find("._domainkey") != std::string::npos;
          b.find(Severity::warning, dkim ? "dkim.long-string" : "txt.long-string", src, 0,
                 fmt::format("the {} value is {} characters shown as one string; a DNS "
                             "character-string holds at most 255, so panels that do not split "
                             "it themselves reject or cut it, and a cut key fails every "
                             "signature",
                             dkim ? "DKIM" : "TXT", strings[0].size()),
                 "RFC 1035 §3.3.14, RFC 6376 §3.6.2.2",
                 "show the value as quoted strings of at most 255 characters "
                 "(\"v=DKIM1; k=rsa; p=…\" \"…\"), and say that the panel joins them");
        }
        rec = world::make_txt_strings(r.owner, world::split_txt(r.value));
      } else if (r.type == "CNAME") {
        rec = world::make_cname(r.owner, owner_name(r.value.back() == '.' ? r.value : r.value + ".", r.zone));
      } else {
        b.find(Severity::warning, "row.unknown-type", src, 0,
               fmt::format("record type '{}' is not one mailsim models (A, AAAA, MX, TXT, CNAME); "
                           "the row is left out of the world",
                           src->type),
               "RFC 1035 §3.2.2", "use one of A, AAAA, MX, TXT, CNAME");
        continue;
      }
      w.add(rec);
      r.added = true;
      out.records.push_back({rec, src->line, r.kind});
    } catch (const std::exception& e) {
      b.find(Severity::error, "row.unusable", src, 0,
             fmt::format("the row cannot be published: {}", e.what()), "RFC 1035 §3.2",
             "correct the host and value columns");
    }
  }

  // Guide §3: the rDNS the hosting provider sets, as a PTR in the provider's reverse zone.
  const auto& rdns = guide.rdns;
  std::string ptr_target = rdns ? b.subst(rdns->target) : "";
  if (rdns) {
    std::string rz = world::reverse_name(n.ip);
    rz = rz.substr(rz.find('.') + 1);
    if (w.zone_for(rz) != rz) w.add_zone(rz);
    w.add(world::make_ptr(world::reverse_name(n.ip), ptr_target));
  }
  // The SUT host is the machine at the guide's IP; name it as the rDNS says, else the MX.
  out.world = std::move(w);

  // --- guide-level checks -------------------------------------------------------------
  std::set<std::string> zones = {n.domain};
  if (!n.second_domain.empty()) zones.insert(n.second_domain);

  // Every host named in MX has an A record in the guide (RFC 5321 §5.1: the MX target's
  // address records are what the sender connects to; a CNAME there is illegal, RFC 2181 §10.3).
  bool primary_mx = false;
  for (const auto& r : b.rows) {
    if (r.type != "MX" || !r.added) continue;
    primary_mx |= r.kind == TableKind::primary;
    const std::string& target = r.value;
    bool ours = std::any_of(zones.begin(), zones.end(),
                            [&](const auto& z) { return world::name_in_zone(target, z); });
    if (!ours) continue;  // another operator's host: not the guide's to publish
    if (!b.rows_at(target, "CNAME").empty()) {
      b.find(Severity::error, "mx.cname", r.src, 0,
             fmt::format("MX points at {}, which the guide makes a CNAME; an MX target must "
                         "have its own A record",
                         target),
             "RFC 2181 §10.3", fmt::format("replace the CNAME row of {} by an A row with {}", target, n.ip));
    } else if (b.rows_at(target, "A").empty() && b.rows_at(target, "AAAA").empty()) {
      std::string label = target.substr(0, target.size() - r.zone.size() - 1);
      b.find(Severity::error, "mx.no-a", r.src, 0,
             fmt::format("MX points at {}, but no table row gives {} an A record: senders "
                         "find the MX and then have no address to connect to",
                         target, target),
             "RFC 5321 §5.1",
             fmt::format("add a row `A | {} | {}` to the table", label.empty() ? "@" : label, n.ip));
    }
  }
  if (!primary_mx) {
    const auto& t = guide.tables.front();
    b.find(Severity::error, "mx.missing", nullptr, t.line,
           fmt::format("the table has no MX row for {}: mail for it goes to the apex's address "
                       "record, if any (implicit MX), and most senders then fail",
                       n.domain),
           "RFC 5321 §5.1", fmt::format("add a row `MX | @ | {} | priority 10`",
                                        n.mx_host.empty() ? "mx." + n.domain : n.mx_host));
  }

  // rDNS (guide §3): present, naming the MX host, forward-confirmed by the A row.
  if (!rdns) {
    b.find(Severity::error, "rdns.missing", nullptr, 0,
           fmt::format("the guide never tells the reader to set the reverse DNS (PTR) of {}; "
                       "Gmail rejects mail from an address without PTR (550-5.7.25) and others "
                       "mark it as spam",
                       n.ip),
           "RFC 8601 §3 (iprev); support.google.com/a/answer/81126",
           fmt::format("add a step: at the hosting provider, set the rDNS of {} to {}", n.ip,
                       n.mx_host.empty() ? "the MX host" : n.mx_host));
  } else {
    if (!rdns->ip.empty() && b.subst(rdns->ip) != n.ip)
      b.find(Severity::error, "rdns.ip", nullptr, rdns->line,
             fmt::format("the rDNS step names {}, but the A row gives the server {}",
                         b.subst(rdns->ip), n.ip),
             "RFC 8601 §3 (iprev)", fmt::format("write {} in the rDNS step", n.ip));
    if (!n.mx_host.empty() && ptr_target != n.mx_host)
      b.find(Severity::error, "rdns.mismatch", nullptr, rdns->line,
             fmt::format("the rDNS step points {} at {}, but the MX host is {}; the HELO name, "
                         "PTR and MX disagree, which Gmail and Outlook count against the sender",
                         n.ip, ptr_target, n.mx_host),
             "support.google.com/a/answer/81126; RFC 5321 §4.1.1.1",
             fmt::format("point the rDNS at {}", n.mx_host));
    auto a_rows = b.rows_at(ptr_target, "A");
    bool confirmed = std::any_of(a_rows.begin(), a_rows.end(), [&](const auto* r) { return r->value == n.ip; });
    if (!confirmed)
      b.find(Severity::error, "rdns.not-forward-confirmed", nullptr, rdns->line,
             fmt::format("the PTR of {} names {}, but no table row gives {} the A record {}, "
                         "so the reverse name is not forward-confirmed (FCrDNS fails)",
                         n.ip, ptr_target, ptr_target, n.ip),
             "RFC 8601 §3 (iprev); support.google.com/a/answer/81126",
             fmt::format("add a row `A | {} | {}`",
                         world::name_in_zone(ptr_target, n.domain) && ptr_target != n.domain
                             ? ptr_target.substr(0, ptr_target.size() - n.domain.size() - 1)
                             : ptr_target,
                         n.ip));
  }

  // SPF for each hosted domain: present, single, and passing for the server's own address —
  // evaluated by libspf2 over the reader's world (RFC 7208 §4).
  auto resolver = dns::make_world_resolver(out.world);
  const std::string helo = n.mx_host.empty() ? "mx." + n.domain : n.mx_host;
  for (const auto& zone : zones) {
    std::vector<const Builder::Row*> spf;
    for (const auto& r : b.rows)
      if (r.owner == zone && r.type == "TXT" && starts_with_ci(r.value, "v=spf1")) spf.push_back(&r);
    const GuideTable* table = nullptr;
    for (const auto& t : guide.tables)
      if ((t.kind == TableKind::primary) == (zone == n.domain)) table = table ? table : &t;
    if (spf.empty()) {
      b.find(Severity::error, "spf.missing", nullptr, table ? table->line : 0,
             fmt::format("no SPF record for {}: receivers see SPF none, and Gmail requires SPF "
                         "or DKIM from every sender",
                         zone),
             "RFC 7208 §3; support.google.com/a/answer/81126",
             fmt::format("add a row `TXT | @ | v=spf1 mx -all`{}", zone == n.domain ? "" : " to this table"));
      continue;
    }
    if (spf.size() > 1) {
      b.find(Severity::error, "spf.multiple", spf[1]->src, 0,
             fmt::format("{} gets {} SPF records; more than one is a permerror and SPF fails for "
                         "every message",
                         zone, spf.size()),
             "RFC 7208 §3.2", "merge the SPF rows into one");
      continue;
    }
    auto res = auth::check_spf_mailfrom(n.ip, helo, "postmaster@" + zone, *resolver);
    if (res.result != auth::Result::pass) {
      std::string rec = spf[0]->value;
      std::string fixed = rec;
      static const std::regex all_re(R"(\s[-~?+]?all\b)", std::regex::icase);
      std::smatch m;
      if (std::regex_search(rec, m, all_re))
        fixed = rec.substr(0, static_cast<std::size_t>(m.position(0))) + " ip4:" + n.ip + rec.substr(static_cast<std::size_t>(m.position(0)));
      else
        fixed = rec + " ip4:" + n.ip;
      b.find(Severity::error, "spf.server-not-covered", spf[0]->src, 0,
             fmt::format("SPF for {} gives {} for the server's own address {}: {} ({}), so "
                         "mail the server sends does not pass SPF",
                         zone, auth::to_string(res.result), n.ip,
                         res.is(auth::Result::fail) || res.is(auth::Result::softfail) ||
                                 res.is(auth::Result::neutral)
                             ? fmt::format("no mechanism of `{}` before `{}` matches it", rec,
                                           res.mechanism.empty() ? "all" : res.mechanism)
                             : fmt::format("`{}` cannot be evaluated inside the guide's own records", rec),
                         res.cause),
             "RFC 7208 §5, §2.6", fmt::format("write the value as `{}`", fixed));
    }
  }
  // The HELO identity's own SPF (the guide's optional `TXT mx`), when the guide publishes one.
  if (b.txt_at(helo, "v=spf1")) {
    auto res = auth::check_spf_helo(n.ip, helo, *resolver);
    if (res.result != auth::Result::pass)
      b.find(Severity::warning, "spf.helo", b.txt_at(helo, "v=spf1")->src, 0,
             fmt::format("the SPF of the HELO name {} gives {} for {} ({})", helo,
                         auth::to_string(res.result), n.ip, res.cause),
             "RFC 7208 §2.3", fmt::format("write the value as `v=spf1 ip4:{} -all`", n.ip));
  }

  // DKIM and DMARC per hosted domain.
  for (const auto& zone : zones) {
    const GuideTable* table = nullptr;
    for (const auto& t : guide.tables)
      if ((t.kind == TableKind::primary) == (zone == n.domain) && !table) table = &t;
    bool dkim = false;
    for (const auto& r : b.rows)
      if (r.type == "TXT" && r.owner.size() > zone.size() && world::name_in_zone(r.owner, zone) &&
          r.owner.find("._domainkey.") != std::string::npos) {
        dkim = true;
        if (!r.placeholder && lower(r.value).find("p=") == std::string::npos)
          b.find(Severity::error, "dkim.no-key", r.src, 0,
                 "the DKIM record has no p= tag, so it carries no public key and every "
                 "signature fails",
                 "RFC 6376 §3.6.1", "copy the whole record the server shows, including p=…");
      }
    if (!dkim && zone == n.domain)
      b.find(Severity::error, "dkim.missing", nullptr, table ? table->line : 0,
             fmt::format("the guide never publishes a DKIM key for {}: mail is unsigned, DMARC "
                         "can only pass through SPF, and forwarded mail fails DMARC",
                         zone),
             "RFC 6376 §3.6.2; support.google.com/a/answer/81126",
             "add the step that copies the server's DKIM record into DNS as a TXT row "
             "`<selector>._domainkey`");

    const Builder::Row* dmarc = b.txt_at("_dmarc." + zone, "v=DMARC1");
    if (!dmarc) {
      if (zone == n.domain)
        b.find(Severity::warning, "dmarc.missing", nullptr, table ? table->line : 0,
               fmt::format("no DMARC record for {}; Gmail and Yahoo require one from bulk "
                           "senders",
                           zone),
               "RFC 7489 §6.1; support.google.com/a/answer/81126",
               "add a row `TXT | _dmarc | v=DMARC1; p=none; rua=mailto:postmaster@" + zone + "`");
      continue;
    }
    auto tags = dmarc_tags(dmarc->value);
    for (const char* tag : {"rua", "ruf"}) {
      for (const auto& mb : mailto_addresses(tags[tag])) {
        auto at = mb.find('@');
        if (at == std::string::npos) continue;
        std::string mdom = mb.substr(at + 1), local = mb.substr(0, at);
        bool hosted = zones.contains(mdom);
        if (!hosted) {
          // RFC 7489 §7.1: a report destination outside the policy domain must publish
          // "<policy-domain>._report._dmarc.<destination>" or receivers drop the address.
          if (last_two_labels(mdom) != last_two_labels(zone) &&
              !b.txt_at(zone + "._report._dmarc." + mdom, "v=DMARC1"))
            b.find(Severity::warning, "dmarc.rua-external", dmarc->src, 0,
                   fmt::format("{}={} sends {}'s reports to another domain, which must publish "
                               "`{}._report._dmarc.{}` TXT \"v=DMARC1\" to accept them; "
                               "otherwise receivers skip the address",
                               tag, mb, zone, zone, mdom),
                   "RFC 7489 §7.1",
                   fmt::format("use a mailbox of {} (mailto:postmaster@{}) in {}", zone, zone, tag));
          continue;
        }
        std::vector<std::string> created;
        for (const auto& c : guide.created_mailboxes) created.push_back(lower(b.subst(c)));
        // RFC 5321 §4.5.1: every SMTP server must accept mail for postmaster of its domains.
        if (local != "postmaster" && std::find(created.begin(), created.end(), mb) == created.end())
          b.find(Severity::warning, "dmarc.rua-mailbox", dmarc->src, 0,
                 fmt::format("{}={} names a mailbox the guide never creates{}; the reports "
                             "bounce",
                             tag, mb,
                             created.empty() ? "" : " (it creates only " + fmt::format("{}", fmt::join(created, ", ")) + ")"),
                 "RFC 7489 §7.1; RFC 5321 §4.5.1",
                 fmt::format("create {} in the Email accounts step, or use mailto:postmaster@{}", mb, mdom));
      }
    }
  }

  // The second-domain table repeats what the primary one and §6 give the first domain.
  for (const auto& t : guide.tables) {
    if (t.kind != TableKind::second_domain) continue;
    const std::string& z = n.second_domain;
    std::vector<std::string> missing;
    if (b.rows_at(z, "MX").empty()) missing.push_back("MX @");
    if (!b.txt_at(z, "v=spf1")) missing.push_back("TXT @ (SPF)");
    if (!b.txt_at("_dmarc." + z, "v=DMARC1")) missing.push_back("TXT _dmarc (DMARC)");
    bool dkim = std::any_of(b.rows.begin(), b.rows.end(), [&](const auto& r) {
      return r.kind == TableKind::second_domain && r.owner.find("._domainkey.") != std::string::npos;
    });
    if (!dkim) missing.push_back("TXT <selector>._domainkey (DKIM)");
    if (!missing.empty())
      b.find(Severity::error, "second.incomplete", nullptr, t.line,
             fmt::format("the table for a further domain lacks {}; mail for that domain then "
                         "fails the checks the first domain passes",
                         fmt::join(missing, ", ")),
             "RFC 5321 §5.1; RFC 7208 §3; RFC 7489 §6.1; RFC 6376 §3.6.2",
             fmt::format("add the row(s) {} to this table", fmt::join(missing, ", ")));
    for (const auto* mx : b.rows_at(z, "MX"))
      if (!n.mx_host.empty() && mx->value != n.mx_host)
        b.find(Severity::warning, "second.mx-host", mx->src, 0,
               fmt::format("the further domain's MX points at {}, not at the server's MX host {}",
                           mx->value, n.mx_host),
               "RFC 5321 §5.1", fmt::format("write {} in the value column", n.mx_host));
  }

  // A note that advises an apex A record the table then leaves out (guide §2's note).
  if (b.rows_at(n.domain, "A").empty())
    for (const auto& p : guide.prose) {
      std::string l = lower(p.text);
      if ((l.find("根域名") != std::string::npos || l.find("root domain") != std::string::npos ||
           l.find("apex") != std::string::npos) &&
          (l.find("a 记录") != std::string::npos || l.find("a record") != std::string::npos)) {
        b.find(Severity::warning, "root-a.note-only", nullptr, p.line,
               fmt::format("the guide advises an A record for {} only in a note, and its table "
                           "has no such row, so a reader who follows the table has none; the SPF "
                           "`a` mechanism then matches nothing",
                           n.domain),
               "RFC 7208 §5.3; guide §2 note",
               fmt::format("add a row `A | @ | {}` to the table", n.ip));
        break;
      }
    }

  std::stable_sort(out.findings.begin(), out.findings.end(),
                   [](const auto& a, const auto& c) { return a.line < c.line; });
  return out;
}

run::Scenario guide_scenario(const GuideCheck& check, std::string_view name) {
  run::Scenario s;
  s.name = name;
  s.teaches = "What a reader who follows the guide's tables ends up with.";
  s.extends = "";
  s.baseline.domain = check.names.domain;
  s.baseline.server_ipv4 = check.names.ip;
  s.baseline.root_a = false;
  const auto& mx = check.names.mx_host;
  if (!mx.empty() && world::name_in_zone(mx, check.names.domain) && mx != check.names.domain)
    s.baseline.mx_label = mx.substr(0, mx.size() - check.names.domain.size() - 1);
  s.world = check.world;
  s.probes.outbound = run::all_personas();
  s.probes.inbound = run::all_personas();
  run::Expectation inbox;
  inbox.disposition = run::Disposition::inbox;
  s.expect.outbound.all = inbox;
  s.expect.inbound.all = inbox;
  s.source_file = check.guide.file;
  return s;
}

int blame_line(const GuideCheck& check, std::string_view check_name) {
  const auto& n = check.names;
  auto line_of = [&](const std::string& owner, RrType type, std::string_view prefix) {
    for (const auto& r : check.records)
      if (r.record.name == owner && r.record.type == type &&
          (prefix.empty() || starts_with_ci(r.record.text(), prefix)))
        return r.line;
    return 0;
  };
  if (check_name == "spf") return line_of(n.domain, RrType::TXT, "v=spf1");
  if (check_name == "dmarc") return line_of("_dmarc." + n.domain, RrType::TXT, "v=DMARC1");
  if (check_name == "dkim") {
    for (const auto& t : check.guide.tables)
      for (const auto& r : t.rows)
        if (lower(r.host).find("_domainkey") != std::string::npos && t.kind == TableKind::primary)
          return r.line;
    return 0;
  }
  if (check_name == "iprev" || check_name == "helo" || check_name == "ptr") {
    if (!check.guide.rdns) return line_of(n.mx_host, RrType::A, "");
    // FCrDNS needs the PTR name's A record too (RFC 8601 §3): with none in the tables, the
    // row to fix is the MX row that names the host (the A row belongs beside it).
    std::string target = world::canonical_name(check.guide.rdns->target);
    target = replace_all_ci(target, n.guide_domain, n.domain);
    if (line_of(target, RrType::A, "") == 0)
      if (int mx = line_of(n.domain, RrType::MX, "")) return mx;
    return check.guide.rdns->line;
  }
  // dns / smtp / tls / sut / connect: where senders find the server.
  int mx = line_of(n.domain, RrType::MX, "");
  return mx ? mx : line_of(n.mx_host, RrType::A, "");
}

}  // namespace mailsim::guide
