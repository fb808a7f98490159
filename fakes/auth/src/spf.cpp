// SPF check_host() (RFC 7208) with libspf2. libspf2 never touches the system resolver
// here: its DNS goes through a custom SPF_dns_server_t layer whose lookup function asks our
// dns::Resolver (through TracingResolver, so each query and answer lands in the trace).
#include "mailsim/auth/spf.hpp"

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
#include <memory>
#include <mutex>
#include <optional>
#include <string>
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
  TracingResolver* resolver = nullptr;
  SpfResult* out = nullptr;
  std::string top_domain;    // the domain whose record check_host() starts with
  bool top_seen = false;     // the first TXT lookup of top_domain is not a term
  std::vector<std::string> records;  // every v=spf1 record text fetched, in order
  // When set, the top-level TXT lookup answers this record instead (used to find which
  // mechanism matched by re-evaluating prefixes of the record; see find_mechanism).
  std::optional<std::string> override_top;
  int temporary_failures = 0;  // SERVFAIL/timeout answers seen
  std::string first_temporary;  // "TXT nodeseek.com → SERVFAIL" for the cause
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
  if (text.size() < 6) return false;
  std::string head(text.substr(0, 6));
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return head == "v=spf1" && (text.size() == 6 || text[6] == ' ');
}

SPF_dns_rr_t* layer_lookup(SPF_dns_server_t* server, const char* domain, ns_type type,
                           int /*should_cache*/) {
  auto* state = static_cast<LayerState*>(server->hook);
  auto rr_type = to_rr_type(type);
  if (!rr_type) return SPF_dns_rr_new_init(server, domain, type, 0, NO_DATA);
  std::string canonical = world::canonical_name(domain);
  bool is_top = !state->top_seen && *rr_type == world::RrType::TXT &&
                canonical == state->top_domain;
  if (is_top) state->top_seen = true;
  if (is_top && state->override_top) {
    SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, 0, NETDB_SUCCESS);
    if (rr == nullptr) return rr;
    const std::string& text = *state->override_top;
    if (SPF_dns_rr_buf_realloc(rr, 0, std::max(text.size() + 1, sizeof(SPF_dns_rr_data_t))) ==
        SPF_E_SUCCESS) {
      std::memcpy(rr->rr[0]->txt, text.c_str(), text.size() + 1);
      rr->num_rr = 1;
    }
    return rr;
  }
  dns::Answer answer = state->resolver->query(domain, *rr_type);
  if (answer.status != dns::DnsStatus::ok && to_herrno(answer.status) == TRY_AGAIN) {
    if (state->temporary_failures++ == 0)
      state->first_temporary = fmt::format("{} {} → {}", world::to_string(*rr_type), canonical,
                                           dns::to_string(answer.status));
  }
  // RFC 7208 §4.6.4: a term's lookup that yields NXDOMAIN or no answers is a void lookup.
  if (!is_top && (answer.status == dns::DnsStatus::nxdomain ||
                  answer.status == dns::DnsStatus::nodata ||
                  answer.status == dns::DnsStatus::formerr)) {
    ++state->out->void_lookups;
  }
  std::vector<world::Record> records = answer.of_type(*rr_type);
  int herrno = to_herrno(answer.status);
  if (answer.ok() && records.empty()) herrno = NO_DATA;  // only a CNAME chain came back
  std::uint32_t ttl = records.empty() ? 0 : records.front().ttl;
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, static_cast<int>(ttl), herrno);
  if (rr == nullptr || herrno != NETDB_SUCCESS) return rr;
  int n = 0;
  for (const auto& record : records) {
    std::string payload = record.type == world::RrType::TXT ? record.text() : record.value;
    if (record.type == world::RrType::TXT && starts_with_spf1(payload) && canonical == state->top_domain)
      state->records.push_back(payload);
    size_t need = std::max(payload.size() + 1, sizeof(SPF_dns_rr_data_t));
    if (SPF_dns_rr_buf_realloc(rr, n, need) != SPF_E_SUCCESS) break;
    SPF_dns_rr_data_t* data = rr->rr[n];
    bool stored = true;
    switch (record.type) {
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

Evaluation evaluate(const std::string& client_ip, const std::string& helo,
                    const std::string& env_from, LayerState& state) {
  Evaluation ev;
  install_handlers();
  // SPF_server_free frees the layer through its destroy hook (SPF_server_new_dns sets
  // destroy_resolver), so it is malloc'ed, as libspf2's own layers are.
  auto* layer = static_cast<SPF_dns_server_t*>(std::calloc(1, sizeof(SPF_dns_server_t)));
  if (layer == nullptr) {
    ev.error = "out of memory creating the DNS layer";
    return ev;
  }
  layer->destroy = layer_destroy;
  layer->lookup = layer_lookup;
  layer->name = "mailsim";
  layer->hook = &state;
  // A server per call: libspf2 server objects are not thread-safe, and they are cheap.
  std::unique_ptr<SPF_server_t, ServerDeleter> server(SPF_server_new_dns(layer, 0));
  if (!server) {
    std::free(layer);
    ev.error = "libspf2 could not create a server";
    return ev;
  }
  SPF_server_set_rec_dom(server.get(), "mailsim.invalid");
  std::unique_ptr<SPF_request_t, RequestDeleter> request(SPF_request_new(server.get()));
  SPF_errcode_t err = world::is_ipv6(client_ip)
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

// libspf2 does not say which mechanism decided the result. We find it by re-evaluating
// growing prefixes of the top-level record (its mechanisms only, RFC 7208 §4.6.2: the
// first that matches decides) until one ends on a mechanism match. These extra
// evaluations use the untraced resolver, so the trace and counters show the real check.
std::string find_mechanism(const std::string& client_ip, const std::string& helo,
                           const std::string& env_from, const std::string& domain,
                           const std::string& record, dns::Resolver& resolver) {
  std::vector<std::string> terms = split_terms(record);
  if (terms.size() < 2) return "";
  std::string prefix = terms.front();
  Trace scratch;
  std::string redirect;
  for (std::size_t k = 1; k < terms.size(); ++k) {
    const std::string& term = terms[k];
    if (term.find('=') != std::string::npos) {  // a modifier (RFC 7208 §6)
      if (term.rfind("redirect=", 0) == 0) redirect = term;
      continue;
    }
    prefix += " " + term;
    TracingResolver quiet(resolver, scratch);
    SpfResult sink;
    LayerState st;
    st.resolver = &quiet;
    st.out = &sink;
    st.top_domain = domain;
    st.override_top = prefix;
    Evaluation ev = evaluate(client_ip, helo, env_from, st);
    if (!ev.response) return "";
    if (SPF_response_reason(ev.response.get()) == SPF_REASON_MECH) return term;
    scratch.clear();
  }
  return redirect;
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
  Evaluation ev = evaluate(client_ip, helo, env_from, state);
  if (!ev.response) {
    out.result = Result::temperror;
    out.cause = fmt::format("SPF could not be evaluated: {}.", ev.error);
    return out;
  }
  SPF_response_t* response = ev.response.get();
  out.result = to_result(SPF_response_result(response));
  SPF_reason_t reason = SPF_response_reason(response);
  SPF_errcode_t code = SPF_response_errcode(response);
  out.dns_lookups = response->num_dns_mech;
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
    out.mechanism =
        find_mechanism(client_ip, helo, env_from, out.domain, out.record, resolver);
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
