// SPF check_host() (RFC 7208) with libspf2. libspf2 never touches the system resolver
// here: its DNS goes through a custom SPF_dns_server_t layer whose lookup function asks our
// dns::Resolver (through TracingResolver, so each query and answer lands in the trace).
#include "mailsim/auth/spf.hpp"
#include "mailsim/auth/spf_syntax.hpp"

#include "ascii.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_log.h>
}

#include <algorithm>
#include <cctype>
#include <cstring>
#include <deque>
#include <memory>
#include <set>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace mailsim::auth {
namespace {

// RFC 7208 §4.6.4: "SPF implementations SHOULD limit 'void lookups' to two."
constexpr int kMaxVoidLookups = 2;
// RFC 7208 §4.6.4: at most 10 terms that cause DNS queries.
constexpr int kMaxDnsLookups = 10;

// Per-check state reached from the libspf2 DNS layer through SPF_dns_server_t::hook.
struct LayerState {
  // The traced resolver for the real check; the bare one for find_mechanism's re-runs.
  dns::Resolver* resolver = nullptr;
  SpfResult* out = nullptr;
  std::string top_domain;    // the domain whose record check_host() starts with
  bool top_seen = false;     // the first TXT lookup of top_domain is not a term
  std::vector<std::string> records;  // every v=spf1 record text fetched, in order
  // When set, the top-level TXT lookup answers this record instead (used to find which
  // mechanism matched by re-evaluating prefixes of the record; see find_mechanism).
  std::optional<std::string> override_top;
  int temporary_failures = 0;  // SERVFAIL/timeout answers seen
  std::string first_temporary;  // "TXT nodeseek.com → SERVFAIL" for the cause
  bool client_v6 = false;       // the client address family (after IPv4-mapped → IPv4)
  // The first record that failed the RFC 7208 §12 check: libspf2 was handed a record it
  // rejects instead, and the result is permerror with this cause.
  std::string syntax_error;
  // Terms that cost a DNS lookup, counted by us (RFC 7208 §4.6.4; libspf2 1.2.10 counts
  // per record, so an include's terms do not add up). Past the limit no further query is
  // made and the result is permerror.
  int terms = 0;
  std::string over_limit;  // the query that would have been the 11th term
  // Names from the last MX or PTR answer: their address lookups belong to that term
  // (RFC 7208 §4.6.4 counts the mx/ptr term once), and for PTR a failed address lookup
  // skips the name (§5.5: "If a DNS error occurs ... that domain name is skipped").
  std::multiset<std::string> secondary;
  bool secondary_from_ptr = false;
};

std::optional<world::RrType> to_rr_type(ns_type type) {
  switch (static_cast<int>(type)) {
    case ns_t_a: return world::RrType::A;
    case ns_t_aaaa: return world::RrType::AAAA;
    case ns_t_mx: return world::RrType::MX;
    case ns_t_txt: return world::RrType::TXT;
    case ns_t_ptr: return world::RrType::PTR;
    default: return std::nullopt;  // type SPF (99) was removed by RFC 7208 §3.1
  }
}

// The one place where our DNS statuses become the h_errno values libspf2 reasons with
// (spf_interpret.c maps TRY_AGAIN to temperror, HOST_NOT_FOUND/NO_DATA to "no records").
int to_herrno(dns::DnsStatus status) {
  switch (status) {
    case dns::DnsStatus::ok: return NETDB_SUCCESS;
    case dns::DnsStatus::nxdomain: return HOST_NOT_FOUND;
    case dns::DnsStatus::nodata: return NO_DATA;
    // FORMERR comes back for a name that cannot be put on the wire (a label over 63
    // octets, an empty label): such a name cannot exist, and RFC 7208 §4.3 treats an
    // invalid domain as having no record, so it reads as NXDOMAIN.
    case dns::DnsStatus::formerr: return HOST_NOT_FOUND;
    // RFC 7208 §2.6.6: a transient error while performing the DNS lookup → temperror.
    case dns::DnsStatus::servfail:
    case dns::DnsStatus::timeout:
    case dns::DnsStatus::refused: return TRY_AGAIN;
  }
  return TRY_AGAIN;
}

bool starts_with_spf1(std::string_view text) {
  // RFC 7208 §4.5: exactly "v=spf1" followed by a space or the end, case-insensitive.
  return ascii::istarts_at(text, 0, "v=spf1") && (text.size() == 6 || text[6] == ' ');
}

// Names of the form "_mailsim0-<kind>.<domain>" stand for an a or mx mechanism with a /0
// CIDR length for the client's family (see rewrite_for_libspf2): kind a4/a6 asks "does
// <domain> have any A/AAAA record", mx4/mx6 "does any MX host of <domain> have one".
constexpr std::string_view kZeroCidrPrefix = "_mailsim0-";
// What libspf2 is handed for a record that failed our RFC 7208 §12 check: an unknown
// mechanism, which libspf2 itself turns into permerror (the cause comes from our check).
constexpr std::string_view kRejectedRecord = "v=spf1 mailsim-invalid-record";
// RFC 7208 §4.6.4: no more than 10 PTR names and 10 MX hosts are looked at.
constexpr std::size_t kMaxPtrNames = 10;
constexpr std::size_t kMaxMxHosts = 10;

// The record libspf2 evaluates in place of a valid one. Same meaning, in the subset
// libspf2 1.2.10 parses:
// - unknown modifiers are dropped (RFC 7208 §6: ignored; libspf2 rejects names with "."
//   or "_", which §12's name allows);
// - redirect= is dropped when the record has an "all" mechanism (§5.1: "any redirect
//   modifier MUST be ignored"; libspf2 instead follows it and may see recursion);
// - /0 lengths (§5.6 allows them; libspf2 refuses them): ip4:x/0 becomes the two halves
//   0.0.0.0/1 and 128.0.0.0/1 (ip6 likewise); a/0 and mx/0 for the client's family become
//   an exists: on a _mailsim0- name our DNS layer answers by doing the a/mx lookups itself,
//   so the term still costs one lookup and its void/error answers count as before;
// - a and mx keep only the CIDR length of the client's family (the other is never used).
std::string rewrite_for_libspf2(const SpfSyntax& syntax, bool client_v6) {
  bool has_all = std::any_of(syntax.terms.begin(), syntax.terms.end(), [](const SpfTerm& t) {
    return t.kind == SpfTerm::Kind::mechanism && t.name == "all";
  });
  std::string out = "v=spf1";
  for (const SpfTerm& t : syntax.terms) {
    std::string q = t.explicit_qualifier ? std::string(1, t.qualifier) : std::string();
    if (t.kind == SpfTerm::Kind::modifier) {
      if (t.name == "exp" || (t.name == "redirect" && !has_all)) out += " " + t.text;
      continue;
    }
    if (t.name == "ip4" || t.name == "ip6") {
      std::optional<int> len = t.name == "ip4" ? t.cidr4 : t.cidr6;
      bool family_matches = (t.name == "ip6") == client_v6;
      if (len && *len == 0 && family_matches) {
        out += t.name == "ip4" ? " " + q + "ip4:0.0.0.0/1 " + q + "ip4:128.0.0.0/1"
                               : " " + q + "ip6:::/1 " + q + "ip6:8000::/1";
      } else if (len && *len == 0) {
        out += " " + q + t.name + ":" + t.value + "/1";  // other family: never matches
      } else {
        out += " " + t.text;
      }
      continue;
    }
    if (t.name == "a" || t.name == "mx") {
      std::optional<int> len = client_v6 ? t.cidr6 : t.cidr4;
      if (len && *len == 0) {
        out += fmt::format(" {}exists:{}{}{}.{}", q, kZeroCidrPrefix, t.name, client_v6 ? 6 : 4,
                           t.value.empty() ? "%{d}" : t.value);
        continue;
      }
      out += " " + q + t.name + (t.value.empty() ? "" : ":" + t.value);
      if (len) out += fmt::format("{}{}", client_v6 ? "//" : "/", *len);
      continue;
    }
    out += " " + t.text;
  }
  return out;
}

// What the §12 check and the rewrite make of one record text for one client family: a
// function of those two alone, so each thread keeps the answers for the records it has
// seen (bounded), keyed by the exact text. Every evaluation still looks the record up in
// DNS and has libspf2 evaluate it; only the parse and rewrite are not redone.
struct PreparedRecord {
  bool ok = false;
  std::string error;      // syntax.error when !ok
  std::string rewritten;  // rewrite_for_libspf2 when ok
};
constexpr std::size_t kMaxPreparedRecords = 256;

const PreparedRecord& prepared_record(const std::string& text, bool client_v6) {
  thread_local std::unordered_map<std::string, PreparedRecord> cache[2];
  auto& mine = cache[client_v6 ? 1 : 0];
  if (auto it = mine.find(text); it != mine.end()) return it->second;
  if (mine.size() >= kMaxPreparedRecords) mine.clear();
  SpfSyntax syntax = parse_spf_record(text);
  PreparedRecord p;
  p.ok = syntax.ok;
  if (syntax.ok) p.rewritten = rewrite_for_libspf2(syntax, client_v6);
  else p.error = std::move(syntax.error);
  return mine.emplace(text, std::move(p)).first->second;
}

// Checks an SPF record against RFC 7208 §12 and returns what libspf2 is to evaluate.
std::string prepare_record(LayerState& state, const std::string& domain,
                           const std::string& text) {
  const PreparedRecord& p = prepared_record(text, state.client_v6);
  if (!p.ok) {
    if (state.syntax_error.empty())
      state.syntax_error = fmt::format("the SPF record of {} is invalid: {}", domain, p.error);
    return std::string(kRejectedRecord);
  }
  return p.rewritten;
}

void note_answer(LayerState& state, world::RrType type, const std::string& name,
                 const dns::Answer& answer, bool counts_void) {
  if (answer.temporary_error() || answer.status == dns::DnsStatus::refused) {
    if (state.temporary_failures++ == 0)
      state.first_temporary = fmt::format("{} {} → {}", world::to_string(type), name,
                                          dns::to_string(answer.status));
  }
  // RFC 7208 §4.6.4: a term's lookup that yields NXDOMAIN or no answers is a void lookup.
  if (counts_void && (answer.status == dns::DnsStatus::nxdomain ||
                      answer.status == dns::DnsStatus::nodata ||
                      answer.status == dns::DnsStatus::formerr))
    ++state.out->void_lookups;
}

// Answers a _mailsim0- name: A 127.0.0.1 when the /0 mechanism matches.
SPF_dns_rr_t* answer_zero_cidr(SPF_dns_server_t* server, const char* domain, ns_type type,
                               LayerState& state, std::string_view kind,
                               const std::string& target) {
  bool v6 = kind.back() == '6';
  world::RrType addr_type = v6 ? world::RrType::AAAA : world::RrType::A;
  auto has_address = [&](const std::string& name, bool counts_void) -> int {
    dns::Answer a = state.resolver->query(name, addr_type);
    note_answer(state, addr_type, name, a, counts_void);
    if (a.ok() && !a.of_type(addr_type).empty()) return NETDB_SUCCESS;
    int h = to_herrno(a.status);
    return h == NETDB_SUCCESS ? NO_DATA : h;
  };
  int herrno = NO_DATA;
  if (kind.substr(0, 1) == "a") {
    herrno = has_address(target, true);
  } else {
    dns::Answer mx = state.resolver->query(target, world::RrType::MX);
    note_answer(state, world::RrType::MX, target, mx, true);
    herrno = to_herrno(mx.status);
    if (herrno == NETDB_SUCCESS) {
      herrno = NO_DATA;
      std::size_t n = 0;
      for (const auto& r : mx.of_type(world::RrType::MX)) {
        if (n++ == kMaxMxHosts) break;
        int h = has_address(world::canonical_name(r.value), false);
        if (h == NETDB_SUCCESS || h == TRY_AGAIN) {
          herrno = h;
          break;
        }
      }
    }
  }
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, 0, herrno);
  if (rr == nullptr || herrno != NETDB_SUCCESS) return rr;
  if (SPF_dns_rr_buf_realloc(rr, 0, sizeof(SPF_dns_rr_data_t)) == SPF_E_SUCCESS) {
    inet_pton(AF_INET, "127.0.0.1", &rr->rr[0]->a);
    rr->num_rr = 1;
  }
  return rr;
}

SPF_dns_rr_t* fill_rr(SPF_dns_server_t* server, const char* domain, ns_type type,
                      world::RrType rr_type, std::uint32_t ttl,
                      const std::vector<std::string>& payloads) {
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, static_cast<int>(ttl),
                                         payloads.empty() ? NO_DATA : NETDB_SUCCESS);
  if (rr == nullptr || payloads.empty()) return rr;
  int n = 0;
  for (const auto& payload : payloads) {
    size_t need = std::max(payload.size() + 1, sizeof(SPF_dns_rr_data_t));
    if (SPF_dns_rr_buf_realloc(rr, n, need) != SPF_E_SUCCESS) break;
    SPF_dns_rr_data_t* data = rr->rr[n];
    bool stored = true;
    switch (rr_type) {
      case world::RrType::A: stored = inet_pton(AF_INET, payload.c_str(), &data->a) == 1; break;
      case world::RrType::AAAA:
        stored = inet_pton(AF_INET6, payload.c_str(), &data->aaaa) == 1;
        break;
      default: std::memcpy(data->txt, payload.c_str(), payload.size() + 1); break;
    }
    if (stored) ++n;
  }
  rr->num_rr = n;
  if (n == 0) rr->herrno = NO_DATA;
  return rr;
}

SPF_dns_rr_t* layer_lookup(SPF_dns_server_t* server, const char* domain, ns_type type,
                           int /*should_cache*/) {
  auto* state = static_cast<LayerState*>(server->hook);
  auto rr_type = to_rr_type(type);
  if (!rr_type) return SPF_dns_rr_new_init(server, domain, type, 0, NO_DATA);
  std::string canonical = world::canonical_name(domain);
  // Past the lookup limit the result is already permerror: ask nothing more.
  if (!state->over_limit.empty()) return SPF_dns_rr_new_init(server, domain, type, 0, NO_DATA);
  bool is_top = !state->top_seen && *rr_type == world::RrType::TXT &&
                canonical == state->top_domain;
  if (is_top) state->top_seen = true;
  if (is_top && state->override_top)
    return fill_rr(server, domain, type, *rr_type, 0,
                   {prepare_record(*state, canonical, *state->override_top)});

  bool is_address = *rr_type == world::RrType::A || *rr_type == world::RrType::AAAA;
  bool secondary = false;
  bool from_ptr = state->secondary_from_ptr;
  if (is_address) {
    if (auto it = state->secondary.find(canonical); it != state->secondary.end()) {
      state->secondary.erase(it);
      secondary = true;
    }
  }
  if (!secondary) state->secondary.clear();
  // RFC 7208 §4.6.4: each a, mx, ptr, exists, include term and redirect costs one lookup,
  // at most 10 in the whole evaluation, includes and redirects included. TXT lookups are
  // counted below, once we know they fetched a record (an exp= text is no term, §6.2).
  if (!is_top && !secondary && *rr_type != world::RrType::TXT &&
      ++state->terms > kMaxDnsLookups) {
    state->over_limit = fmt::format("{} {}", world::to_string(*rr_type), canonical);
    return SPF_dns_rr_new_init(server, domain, type, 0, NO_DATA);
  }
  if (*rr_type == world::RrType::A && canonical.rfind(kZeroCidrPrefix, 0) == 0) {
    std::string_view rest = std::string_view(canonical).substr(kZeroCidrPrefix.size());
    auto dot = rest.find('.');
    if (dot != std::string_view::npos)
      return answer_zero_cidr(server, domain, type, *state, rest.substr(0, dot),
                              std::string(rest.substr(dot + 1)));
  }

  dns::Answer answer = state->resolver->query(domain, *rr_type);
  // RFC 7208 §5.5: while validating PTR names, "if a DNS error occurs while doing an A RR
  // lookup, then that domain name is skipped and the search continues" (a CNAME loop too).
  if (secondary && from_ptr && to_herrno(answer.status) == TRY_AGAIN)
    return SPF_dns_rr_new_init(server, domain, type, 0, HOST_NOT_FOUND);
  // Void lookups are those of terms; a TXT lookup that finds nothing is an include or
  // redirect target without a record (permerror anyway) or an exp= text (RFC 7208 §6.2:
  // no effect on the result), so TXT answers are not counted.
  note_answer(*state, *rr_type, canonical, answer, !is_top && *rr_type != world::RrType::TXT);
  // Only the records of the queried type (answer.of_type), moved out rather than copied:
  // the answer is not read again.
  std::vector<world::Record> records = std::move(answer.records);
  std::erase_if(records, [&](const world::Record& r) { return r.type != *rr_type; });
  int herrno = to_herrno(answer.status);
  if (answer.ok() && records.empty()) herrno = NO_DATA;  // only a CNAME chain came back
  if (herrno != NETDB_SUCCESS) return SPF_dns_rr_new_init(server, domain, type, 0, herrno);

  std::vector<std::string> payloads;
  std::vector<std::size_t> spf_at;
  payloads.reserve(records.size());
  for (auto& record : records) {  // our own copy: values are moved, ttl is read below
    payloads.push_back(record.type == world::RrType::TXT ? record.text()
                                                         : std::move(record.value));
    if (record.type == world::RrType::TXT && starts_with_spf1(payloads.back()))
      spf_at.push_back(payloads.size() - 1);
  }
  if (*rr_type == world::RrType::TXT && !spf_at.empty()) {
    if (canonical == state->top_domain)
      for (std::size_t k : spf_at) state->records.push_back(payloads[k]);
    if (!is_top && ++state->terms > kMaxDnsLookups) {
      state->over_limit = fmt::format("TXT {}", canonical);
      return SPF_dns_rr_new_init(server, domain, type, 0, NO_DATA);
    }
    // More than one record is permerror by RFC 7208 §4.5, which libspf2 reports itself.
    if (spf_at.size() == 1)
      payloads[spf_at.front()] = prepare_record(*state, canonical, payloads[spf_at.front()]);
  }
  if (*rr_type == world::RrType::PTR && payloads.size() > kMaxPtrNames)
    payloads.resize(kMaxPtrNames);  // RFC 7208 §4.6.4: the rest "MUST be ignored"
  if (*rr_type == world::RrType::MX || *rr_type == world::RrType::PTR) {
    state->secondary.clear();
    for (const auto& p : payloads) state->secondary.insert(world::canonical_name(p));
    state->secondary_from_ptr = *rr_type == world::RrType::PTR;
  }
  return fill_rr(server, domain, type, *rr_type, records.front().ttl, payloads);
}

void layer_destroy(SPF_dns_server_t* server) { std::free(server); }

// libspf2's log handlers are process globals. We route them to the running check through a
// thread-local pointer, so concurrent checks (each with its own SPF_server_t) stay apart.
thread_local std::vector<std::string>* tl_debug_sink = nullptr;

void log_handler(const char* /*file*/, int /*line*/, const char* msg) {
  if (tl_debug_sink != nullptr && msg != nullptr) tl_debug_sink->emplace_back(msg);
}

void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    SPF_warning_handler = log_handler;
    SPF_info_handler = log_handler;
    SPF_debug_handler = log_handler;
  });
}

Result to_result(SPF_result_t r) {
  switch (r) {
    case SPF_RESULT_PASS: return Result::pass;
    case SPF_RESULT_FAIL: return Result::fail;
    case SPF_RESULT_SOFTFAIL: return Result::softfail;
    case SPF_RESULT_NEUTRAL: return Result::neutral;
    case SPF_RESULT_NONE: return Result::none;
    case SPF_RESULT_TEMPERROR: return Result::temperror;
    case SPF_RESULT_PERMERROR:
    case SPF_RESULT_INVALID: return Result::permerror;
  }
  return Result::permerror;
}

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return world::canonical_name(at == std::string::npos ? address : address.substr(at + 1));
}

struct ServerDeleter {
  void operator()(SPF_server_t* s) const { SPF_server_free(s); }
};
struct RequestDeleter {
  void operator()(SPF_request_t* r) const { SPF_request_free(r); }
};
struct ResponseDeleter {
  void operator()(SPF_response_t* r) const { SPF_response_free(r); }
};

// One libspf2 evaluation over our DNS layer. Returns nullptr only when libspf2 cannot
// even be set up (out of memory); `error` then says why.
struct Evaluation {
  std::unique_ptr<SPF_response_t, ResponseDeleter> response;
  std::string error;
};

// A libspf2 server with our DNS layer under it. SPF_server_new_dns() is not cheap to call
// per check (it calls gethostname() — a uname syscall — and compiles the default
// explanation macro string), so each thread keeps one and reuses it: an SPF_server_t holds
// only configuration (resolver, rec_dom, explanation, limits), every per-check datum lives
// in the SPF_request_t/SPF_response_t made per evaluation and in the LayerState the layer's
// hook points at for the duration of one evaluation. One per thread because neither
// libspf2's server nor our hook pointer is meant to be shared between concurrent checks.
struct SpfServer {
  // The layer is ours to free: SPF_server_new_dns sets destroy_resolver = 0, so
  // SPF_server_free never calls its destroy hook (libspf2 spf_server.c). Declared before
  // the server so it outlives it (LeakSanitizer found one layer leaked per check).
  std::unique_ptr<SPF_dns_server_t, void (*)(SPF_dns_server_t*)> layer{nullptr, layer_destroy};
  std::unique_ptr<SPF_server_t, ServerDeleter> server;
  bool busy = false;  // an evaluation on this thread is using it (see ServerLease)

  // Empty (server == nullptr) when out of memory; `error` says which part failed.
  static SpfServer make(std::string& error) {
    SpfServer s;
    s.layer.reset(static_cast<SPF_dns_server_t*>(std::calloc(1, sizeof(SPF_dns_server_t))));
    if (!s.layer) {
      error = "out of memory creating the DNS layer";
      return s;
    }
    s.layer->destroy = layer_destroy;
    s.layer->lookup = layer_lookup;
    s.layer->name = "mailsim";
    s.server.reset(SPF_server_new_dns(s.layer.get(), 0));
    if (!s.server) {
      error = "libspf2 could not create a server";
      return s;
    }
    SPF_server_set_rec_dom(s.server.get(), "mailsim.invalid");
    return s;
  }
};

// The calling thread's server for one evaluation. Should an evaluation ever start while
// another is running on the same thread (a resolver that checks SPF itself), it gets a
// server of its own instead, so the outer evaluation's hook is never overwritten. The
// thread's server is freed when the thread exits (thread_local destructor).
class ServerLease {
 public:
  explicit ServerLease(LayerState& state) {
    thread_local SpfServer mine;
    if (!mine.busy) {
      if (!mine.server) mine = SpfServer::make(error_);
      if (mine.server) {
        used_ = &mine;
        mine.busy = true;
      }
    } else {
      own_ = SpfServer::make(error_);
      if (own_.server) used_ = &own_;
    }
    if (used_ != nullptr) used_->layer->hook = &state;
  }
  ~ServerLease() {
    if (used_ == nullptr) return;
    used_->layer->hook = nullptr;  // the LayerState dies with the check
    used_->busy = false;
  }
  ServerLease(const ServerLease&) = delete;
  ServerLease& operator=(const ServerLease&) = delete;

  SPF_server_t* server() const { return used_ != nullptr ? used_->server.get() : nullptr; }
  const std::string& error() const { return error_; }

 private:
  SpfServer own_;
  SpfServer* used_ = nullptr;
  std::string error_;
};

Evaluation evaluate(const std::string& client_ip, const std::string& helo,
                    const std::string& env_from, LayerState& state) {
  Evaluation ev;
  install_handlers();
  ServerLease lease(state);
  if (lease.server() == nullptr) {
    ev.error = lease.error();
    return ev;
  }
  std::unique_ptr<SPF_request_t, RequestDeleter> request(SPF_request_new(lease.server()));
  if (!request) {
    ev.error = "out of memory creating the libspf2 request";
    return ev;
  }
  state.client_v6 = world::is_ipv6(client_ip);
  SPF_errcode_t err = state.client_v6
                          ? SPF_request_set_ipv6_str(request.get(), client_ip.c_str())
                          : SPF_request_set_ipv4_str(request.get(), client_ip.c_str());
  if (err != SPF_E_SUCCESS) {
    ev.error = fmt::format("client address \"{}\" is not an IP address", client_ip);
    return ev;
  }
  if (!helo.empty()) SPF_request_set_helo_dom(request.get(), helo.c_str());
  SPF_request_set_env_from(request.get(), env_from.c_str());
  std::vector<std::string> log;
  tl_debug_sink = &log;
  SPF_response_t* raw = nullptr;
  SPF_request_query_mailfrom(request.get(), &raw);
  tl_debug_sink = nullptr;
  ev.response.reset(raw);
  if (!ev.response) ev.error = "libspf2 returned no response";
  return ev;
}

std::vector<std::string> split_terms(const std::string& record) {
  std::vector<std::string> terms;
  std::size_t i = 0;
  while (i < record.size()) {
    while (i < record.size() && record[i] == ' ') ++i;
    std::size_t j = record.find(' ', i);
    if (j == std::string::npos) j = record.size();
    if (j > i) terms.push_back(record.substr(i, j - i));
    i = j;
  }
  return terms;
}

// The result a mechanism gives when it matches: its qualifier (RFC 7208 §4.6.2, "+" when
// absent).
Result qualifier_result(std::string_view term) {
  switch (term.empty() ? '+' : term.front()) {
    case '-': return Result::fail;
    case '~': return Result::softfail;
    case '?': return Result::neutral;
    default: return Result::pass;
  }
}

// The mechanism name of a term, lower-case, without qualifier, value or CIDR length.
std::string mechanism_name(std::string_view term) {
  if (!term.empty() && (term.front() == '+' || term.front() == '-' || term.front() == '~' ||
                        term.front() == '?'))
    term.remove_prefix(1);
  std::size_t end = term.find_first_of(":/");
  std::string name(term.substr(0, end));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

// libspf2 does not say which mechanism decided the result; this finds it. RFC 7208 §4.6.2:
// mechanisms are evaluated in order and the first that matches decides, its qualifier
// giving the result. So only mechanisms whose qualifier gives `result` can have decided
// ("candidates"; the redirect= target when none did).
//
// Without re-evaluating, when the record can be read that way: `dns_terms` is how many
// terms cost a lookup in the real evaluation (LayerState::terms). For a record of plain
// mechanisms (no include:, no modifier — so every counted lookup is a top-level term's and
// each term counts once, its MX/PTR address lookups being secondary), evaluation stopped
// at the matching term, so that term lies after the dns_terms-th lookup term and before the
// next one. A single candidate there is the answer.
//
// Otherwise (includes, redirect, several candidates in that span) growing prefixes of the
// record are re-evaluated, each ending on the next candidate, until one ends on a
// mechanism match; skipping the prefixes that end on a non-candidate is exact, as such a
// prefix cannot end on a match giving `result` that a shorter candidate prefix missed.
// These re-runs use the bare resolver, so the trace and counters show only the real check.
std::string find_mechanism(const std::string& client_ip, const std::string& helo,
                           const std::string& env_from, const std::string& domain,
                           const std::string& record, Result result, int dns_terms,
                           dns::Resolver& resolver) {
  std::vector<std::string> terms = split_terms(record);
  if (terms.size() < 2) return "";
  std::string redirect;
  bool plain = true;  // only mechanisms, and no include:
  std::vector<std::size_t> candidates;
  for (std::size_t k = 1; k < terms.size(); ++k) {
    const std::string& term = terms[k];
    if (term.find('=') != std::string::npos) {  // a modifier (RFC 7208 §6)
      if (term.rfind("redirect=", 0) == 0) redirect = term;
      plain = false;
      continue;
    }
    if (mechanism_name(term) == "include") plain = false;
    if (qualifier_result(term) == result) candidates.push_back(k);
  }
  if (plain) {
    auto costs_lookup = [](const std::string& name) {
      return name == "a" || name == "mx" || name == "ptr" || name == "exists";
    };
    int seen = 0;
    std::size_t found = 0;
    int in_span = 0;
    for (std::size_t k = 1; k < terms.size() && seen <= dns_terms; ++k) {
      if (costs_lookup(mechanism_name(terms[k])) && ++seen > dns_terms) break;
      if (seen == dns_terms && qualifier_result(terms[k]) == result) {
        found = k;
        ++in_span;
      }
    }
    if (in_span == 1) return terms[found];
  }

  std::string prefix = terms.front();
  std::size_t next = 1;
  for (std::size_t k : candidates) {
    for (; next <= k; ++next)
      if (terms[next].find('=') == std::string::npos) prefix += " " + terms[next];
    SpfResult sink;
    LayerState st;
    st.resolver = &resolver;
    st.out = &sink;
    st.top_domain = domain;
    st.override_top = prefix;
    Evaluation ev = evaluate(client_ip, helo, env_from, st);
    if (!ev.response) return "";
    if (SPF_response_reason(ev.response.get()) == SPF_REASON_MECH) return terms[k];
  }
  return redirect;
}

// RFC 4291 §2.5.5.2: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is an IPv4 client
// speaking over an IPv6 socket; SPF evaluates it as the IPv4 address (as pyspf, the
// suite's reference, does), so ip4/a/mx match it and ip6:::ffff:… does not.
std::string unmap_ipv4(const std::string& ip) {
  in6_addr addr{};
  if (!world::is_ipv6(ip) || inet_pton(AF_INET6, ip.c_str(), &addr) != 1) return ip;
  if (!IN6_IS_ADDR_V4MAPPED(&addr)) return ip;
  char text[INET_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET, &addr.s6_addr[12], text, sizeof text) == nullptr) return ip;
  return text;
}

std::string trim_period(std::string text) {
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  return text;
}

SpfResult run_check(const std::string& client_ip, const std::string& helo,
                    const std::string& env_from, const std::string& identity,
                    dns::Resolver& resolver) {
  SpfResult out;
  out.identity = identity;
  out.domain = domain_of(env_from);
  TracingResolver tracing(resolver, out.trace);
  LayerState state;
  state.resolver = &tracing;
  state.out = &out;
  state.top_domain = out.domain;
  out.trace.push_back({TraceStep::Kind::step,
                       fmt::format("SPF check_host({}, {}, {}) for the {} identity", client_ip,
                                   out.domain, env_from, identity)});
  Evaluation ev = evaluate(unmap_ipv4(client_ip), helo, env_from, state);
  if (!ev.response) {
    out.result = Result::temperror;
    out.cause = fmt::format("SPF could not be evaluated: {}.", ev.error);
    return out;
  }
  SPF_response_t* response = ev.response.get();
  out.result = to_result(SPF_response_result(response));
  SPF_reason_t reason = SPF_response_reason(response);
  SPF_errcode_t code = SPF_response_errcode(response);
  out.dns_lookups = std::max(response->num_dns_mech, state.terms);
  if (!state.records.empty()) out.record = state.records.front();
  if (!out.record.empty())
    out.trace.push_back({TraceStep::Kind::step, fmt::format("record: \"{}\"", out.record)});

  std::string detail;
  bool dns_error_reported = false;
  for (int i = 0; i < SPF_response_messages(response); ++i) {
    SPF_error_t* e = SPF_response_message(response, i);
    if (e == nullptr || SPF_error_message(e) == nullptr) continue;
    out.trace.push_back({TraceStep::Kind::step,
                         fmt::format("libspf2 {}: {}", SPF_error_errorp(e) ? "error" : "warning",
                                     SPF_error_message(e))});
    if (SPF_error_code(e) == SPF_E_DNS_ERROR) dns_error_reported = true;
    if (detail.empty() && SPF_error_errorp(e)) detail = trim_period(SPF_error_message(e));
  }

  // RFC 7208 §4.6: "If there are any syntax errors anywhere in the record, check_host()
  // returns immediately with the result 'permerror'" — the same for an included or
  // redirected record (§5.2, §6.1 carry the permerror up).
  if (!state.syntax_error.empty()) {
    out.result = Result::permerror;
    out.cause = fmt::format("{}{}; RFC 7208 §4.6: permerror.",
                            static_cast<char>(std::toupper(
                                static_cast<unsigned char>(state.syntax_error.front()))),
                            state.syntax_error.substr(1));
    out.trace.push_back({TraceStep::Kind::step, "syntax error → permerror"});
    return out;
  }
  // RFC 7208 §4.6.4: counted across includes and redirects; past 10, permerror.
  if (!state.over_limit.empty()) {
    out.result = Result::permerror;
    out.cause = fmt::format("The SPF record of {} needs more than {} DNS lookups (the 11th "
                            "would have been {}; RFC 7208 §4.6.4): permerror.",
                            out.domain, kMaxDnsLookups, state.over_limit);
    out.trace.push_back({TraceStep::Kind::step, "DNS lookup limit exceeded → permerror"});
    return out;
  }
  // RFC 7208 §4.4: a DNS lookup that fails (SERVFAIL, timeout, other RCODE) ends
  // check_host() with temperror; libspf2 1.2.10 reports some of these as permerror
  // (SPF_E_DNS_ERROR), so the DNS layer's own record of failures decides.
  if (state.temporary_failures > 0 && out.result == Result::permerror &&
      (code == SPF_E_DNS_ERROR || dns_error_reported)) {
    out.result = Result::temperror;
    out.cause = fmt::format("A DNS lookup failed temporarily while evaluating SPF for {} ({}); "
                            "RFC 7208 §4.4: temperror.",
                            out.domain, state.first_temporary);
    return out;
  }

  // RFC 7208 §4.5: "If the resultant record set includes more than one record,
  // check_host() produces the 'permerror' result."
  if (state.records.size() > 1 && code == SPF_E_MULTIPLE_RECORDS) {
    out.result = Result::permerror;
    out.cause = fmt::format("{} publishes {} SPF records; RFC 7208 §4.5 allows one, so the "
                            "result is permerror.",
                            out.domain, state.records.size());
    return out;
  }
  // RFC 7208 §4.6.4: libspf2 1.2.10 predates the void-lookup limit, so it is enforced
  // here. Evaluation is sequential, so the limit was crossed before libspf2's verdict.
  if (out.void_lookups > kMaxVoidLookups && out.result != Result::temperror) {
    out.result = Result::permerror;
    out.cause = fmt::format("{} DNS lookups made while evaluating the SPF record of {} "
                            "returned no records (void lookups); RFC 7208 §4.6.4 allows {}: "
                            "permerror.",
                            out.void_lookups, out.domain, kMaxVoidLookups);
    out.trace.push_back({TraceStep::Kind::step, "void-lookup limit exceeded → permerror"});
    return out;
  }
  if (reason == SPF_REASON_MECH && !out.record.empty() &&
      (out.result == Result::pass || out.result == Result::fail ||
       out.result == Result::softfail || out.result == Result::neutral)) {
    out.mechanism = find_mechanism(unmap_ipv4(client_ip), helo, env_from, out.domain,
                                   out.record, out.result, state.terms, resolver);
  }
  std::string via = out.mechanism.empty() ? std::string() : " by " + out.mechanism;
  if (reason == SPF_REASON_DEFAULT)
    via = " (no mechanism matched; the default is neutral, RFC 7208 §4.7)";
  if (!out.mechanism.empty())
    out.trace.push_back({TraceStep::Kind::step,
                         fmt::format("mechanism {} matched → {}", out.mechanism,
                                     to_string(out.result))});

  switch (out.result) {
    case Result::pass:
      out.cause = fmt::format("{} designates {} as a permitted sender{}.", out.domain,
                              client_ip, via);
      break;
    case Result::fail:
      out.cause = fmt::format("{} does not designate {} as a permitted sender (fail{}).",
                              out.domain, client_ip, via);
      break;
    case Result::softfail:
      out.cause = fmt::format("{} does not designate {} as a permitted sender (softfail{}).",
                              out.domain, client_ip, via);
      break;
    case Result::neutral:
      out.cause = fmt::format("{} makes no assertion about {} (neutral{}).", out.domain,
                              client_ip, via);
      break;
    case Result::none:
      out.cause = fmt::format("{} publishes no SPF record.", out.domain);
      break;
    case Result::temperror:
      out.cause = fmt::format("A DNS lookup failed temporarily while evaluating SPF for {}{}.",
                              out.domain,
                              state.first_temporary.empty() ? (detail.empty() ? "" : ": " + detail)
                                                            : " (" + state.first_temporary + ")");
      break;
    default:
      if (code == SPF_E_BIG_DNS || out.dns_lookups > kMaxDnsLookups) {
        out.cause = fmt::format("The SPF record of {} needs more than {} DNS lookups "
                                "(RFC 7208 §4.6.4): permerror.",
                                out.domain, kMaxDnsLookups);
      } else {
        out.cause = fmt::format("The SPF record of {} is invalid: {}.", out.domain,
                                detail.empty() ? trim_period(SPF_strerror(code)) : detail);
      }
      break;
  }
  return out;
}

}  // namespace

SpfResult check_spf_mailfrom(const std::string& client_ip, const std::string& helo,
                             const std::string& mail_from, dns::Resolver& resolver) {
  // RFC 7208 §2.4: with a null reverse-path the MAIL FROM check uses "postmaster@<HELO>".
  std::string sender = mail_from.empty() ? "postmaster@" + helo : mail_from;
  return run_check(client_ip, helo, sender, "mailfrom", resolver);
}

SpfResult check_spf_helo(const std::string& client_ip, const std::string& helo,
                         dns::Resolver& resolver) {
  // RFC 7208 §2.3: check_host() with <domain> = the HELO name, sender postmaster@helo.
  return run_check(client_ip, helo, "postmaster@" + helo, "helo", resolver);
}

}  // namespace mailsim::auth
