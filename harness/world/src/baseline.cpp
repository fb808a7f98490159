// The guide-baseline world (../shared/reference/posteio-guide.md §2, §3, §6) and the
// receiving providers around it. Every address here is virtual: the fabric maps it to a
// loopback alias, so real-looking provider addresses never leave the machine.
#include "mailsim/world/baseline.hpp"

#include <stdexcept>

#include <fmt/core.h>

namespace mailsim::world {
namespace {

// The reverse zone that holds the PTR of `address`: the /24 for IPv4
// ("56.34.12.in-addr.arpa", as a hosting provider delegates it), the /64 for IPv6.
std::string reverse_zone_for(std::string_view address) {
  std::string rev = reverse_name(address);
  if (rev.empty()) throw std::invalid_argument(fmt::format("not an IP address: {}", address));
  // IPv4: drop the host octet (one label). IPv6: drop the 16 host nibbles (32 characters).
  std::size_t drop = is_ipv6(address) ? 32 : rev.find('.') + 1;
  return rev.substr(drop);
}

// One persona: its mail domain and the hosts that receive and send for it.
struct PersonaPlan {
  const char* persona;
  const char* domain;
  const char* mx_host;
  const char* mx_zone;  // the zone holding the MX host's name
  const char* mx_ip;
  const char* mx_ipv6;  // "" = IPv4 only
  const char* sender_host;
  const char* sender_zone;
  const char* sender_ip;
  const char* spf;
  const char* dmarc;
};

// Addresses look like each provider's (so traces read naturally) but are only ever virtual.
// Policies mirror what the providers publish: gmail.com and outlook.com p=none, yahoo.com
// p=reject (their published _dmarc records, summarised).
constexpr PersonaPlan kPersonas[] = {
    {"gmail", "gmail.com", "gmail-smtp-in.l.google.com", "google.com", "142.250.27.26",
     "2a00:1450:400c:c0b::1a",
     "mail-sor-f41.google.com", "google.com", "209.85.220.41",
     "v=spf1 ip4:209.85.128.0/17 ip4:142.250.0.0/15 ~all",
     "v=DMARC1; p=none; sp=quarantine; rua=mailto:mailauth-reports@google.com"},
    {"outlook", "outlook.com", "outlook-com.olc.protection.outlook.com", "outlook.com",
     "52.101.68.10", "2a01:111:f403:c201::1", "mail-db8eur05olkn2041.outbound.protection.outlook.com", "outlook.com",
     "40.92.89.41", "v=spf1 ip4:40.92.0.0/15 ip4:52.100.0.0/14 -all",
     "v=DMARC1; p=none; pct=100; rua=mailto:d@rua.agari.com"},
    {"yahoo", "yahoo.com", "mta5.am0.yahoodns.net", "yahoodns.net", "67.195.204.72", "",
     "sonic310-21.consmr.mail.ne1.yahoo.com", "yahoo.com", "66.163.186.147",
     "v=spf1 ip4:66.163.184.0/21 ip4:67.195.204.0/24 ~all",
     "v=DMARC1; p=reject; pct=100; rua=mailto:d@rua.yahoo.com"},
    {"mailtester", "mail-tester.com", "reception.mail-tester.com", "mail-tester.com",
     "94.23.206.89", "", "smtp.mail-tester.com", "mail-tester.com", "94.23.206.90",
     "v=spf1 ip4:94.23.206.0/24 -all", "v=DMARC1; p=none"},
    {"corporate", "corp.example", "mx.corp.example", "corp.example", "203.0.113.25", "",
     "mail.corp.example", "corp.example", "203.0.113.26", "v=spf1 mx a:mail.corp.example -all",
     "v=DMARC1; p=quarantine; rua=mailto:dmarc@corp.example"},
};

constexpr const char* kFakeDnsIp = "203.0.113.53";

void ensure_zone(World& world, std::string_view apex) {
  if (!world.zones().contains(canonical_name(apex))) world.add_zone(apex);
}

// A PTR for `address` in its reverse zone (created on first use).
void add_ptr(World& world, std::string_view address, std::string_view target) {
  ensure_zone(world, reverse_zone_for(address));
  world.add(make_ptr(reverse_name(address), target));
}

Host make_host(std::string_view name, HostRole role, std::string address,
               std::set<std::uint16_t> ports, std::string_view persona = "") {
  Host h;
  h.name = canonical_name(name);
  h.role = role;
  h.addresses = {std::move(address)};
  h.open_ports = std::move(ports);
  h.persona = persona;
  return h;
}

}  // namespace

const std::vector<PersonaDomain>& persona_domains() {
  static const std::vector<PersonaDomain> domains = [] {
    std::vector<PersonaDomain> v;
    for (const auto& p : kPersonas) v.push_back({p.persona, p.domain, p.mx_host});
    return v;
  }();
  return domains;
}

World guide_baseline(const BaselineOptions& options) {
  if (!is_ip_address(options.server_ipv4) || is_ipv6(options.server_ipv4))
    throw std::invalid_argument(
        fmt::format("baseline server_ipv4 '{}' is not an IPv4 address", options.server_ipv4));
  if (!options.server_ipv6.empty() && !is_ipv6(options.server_ipv6))
    throw std::invalid_argument(
        fmt::format("baseline server_ipv6 '{}' is not an IPv6 address", options.server_ipv6));
  const std::string domain = canonical_name(options.domain);
  const std::string mx = options.mx_label + "." + domain;
  World w;

  // --- the fake DNS itself ------------------------------------------------------------
  w.add_zone("mailsim.test");
  w.add(make_a(kFakeDnsHost, kFakeDnsIp));
  w.add_host(make_host(kFakeDnsHost, HostRole::dns, kFakeDnsIp, {53}));

  // --- the setup under test: guide §2 table ---------------------------------------------
  w.add_zone(domain);
  w.add(make_a(mx, options.server_ipv4));              // A     mx   12.34.56.78
  w.add(make_mx(domain, 10, mx));                      // MX    @    mx.nodeseek.com (10)
  w.add(make_txt(domain, "v=spf1 a mx -all"));         // TXT   @    SPF
  w.add(make_txt(mx, "v=spf1 a -all"));                // TXT   mx   sub-domain SPF
  w.add(make_txt("_dmarc." + domain,                   // TXT   _dmarc
                 fmt::format("v=DMARC1; p=reject; rua=mailto:postmaster@{0}; "
                             "ruf=mailto:postmaster@{0}",
                             domain)));
  // Guide §2 note: a root A record pointing at the mail server, since some receivers
  // judge a domain whose apex resolves nowhere as spammy.
  if (options.root_a) w.add(make_a(domain, options.server_ipv4));
  // Guide §3: the hosting provider's rDNS for the server IP names the MX host.
  add_ptr(w, options.server_ipv4, mx);
  Host sut = make_host(mx, HostRole::sut, options.server_ipv4, {25, 80, 443, 465, 587});
  if (!options.server_ipv6.empty()) {
    w.add(make_aaaa(mx, options.server_ipv6));
    add_ptr(w, options.server_ipv6, mx);
    sut.addresses.push_back(make_aaaa("x", options.server_ipv6).value);
  }
  w.add_host(std::move(sut));
  // Guide §6: the DKIM selector record is published by the setup under test at run time.

  // --- the receiving providers ---------------------------------------------------------
  for (const auto& p : kPersonas) {
    ensure_zone(w, p.domain);
    ensure_zone(w, p.mx_zone);
    ensure_zone(w, p.sender_zone);
    w.add(make_mx(p.domain, 10, p.mx_host));
    w.add(make_a(p.mx_host, p.mx_ip));
    add_ptr(w, p.mx_ip, p.mx_host);  // forward-confirmed: PTR → name → A → same IP
    w.add(make_a(p.sender_host, p.sender_ip));
    add_ptr(w, p.sender_ip, p.sender_host);
    w.add(make_txt(p.domain, p.spf));
    w.add(make_txt(std::string("_dmarc.") + p.domain, p.dmarc));
    Host rx = make_host(p.mx_host, HostRole::receiver, p.mx_ip, {25}, p.persona);
    // Gmail's and Outlook's MX hosts also have IPv6 (as the real ones do), so a SUT that
    // gains IPv6 (ipv6.add) sends over it and meets their IPv6 PTR rules.
    if (*p.mx_ipv6) {
      w.add(make_aaaa(p.mx_host, p.mx_ipv6));
      add_ptr(w, p.mx_ipv6, p.mx_host);
      rx.addresses.push_back(p.mx_ipv6);
    }
    w.add_host(std::move(rx));
    w.add_host(make_host(p.sender_host, HostRole::sender, p.sender_ip, {}, p.persona));
  }

  // --- an empty DNSBL: every lookup is NXDOMAIN ("not listed") until dnsbl.listed ------
  w.add_zone(kDnsblZone);
  return w;
}

}  // namespace mailsim::world
