// DKIM verify and sign (RFC 6376, RFC 8463) with libopendkim. Public keys are fetched
// through our Resolver (dkim_set_key_lookup), traced, never through the system resolver.
#include "mailsim/auth/dkim.hpp"

// dkim.h is C99 and says `_Bool`; in C++ that is `bool` (same size and ABI on our targets).
#ifndef _Bool
#define _Bool bool
#define MAILSIM_UNDEF_BOOL
#endif
extern "C" {
#include <opendkim/dkim.h>
}
#ifdef MAILSIM_UNDEF_BOOL
#undef _Bool
#undef MAILSIM_UNDEF_BOOL
#endif

// The key decoder below uses OpenSSL's RSA type API, deprecated in 3.0 but kept (libopendkim
// itself verifies with RSA_verify); without this the deprecation warnings fail -Werror.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace mailsim::auth::key_cache {

// Parsed RSA public keys by the exact bytes libopendkim hands to d2i_PUBKEY_bio (the DER
// of the p= value it just base64-decoded), kept per thread while verify_dkim runs (see the
// d2i_PUBKEY_bio definition at the end of this file). Real verifiers keep fetched keys for
// the record's DNS TTL; this keeps less: the DNS query is still made and the record still
// read and decoded for every signature, only the DER → RSA parse and the Montgomery
// context OpenSSL computes on the first RSA_verify with a key (cached in the RSA object,
// RSA_FLAG_CACHE_PUBLIC) are reused, and only for byte-identical DER — a changed or
// rotated key is a different key. Bounded: kMaxKeys entries, the oldest dropped first.
// Per thread, so no key object is shared between threads; freed at thread exit.
constexpr std::size_t kMaxKeys = 16;

struct Entry {
  std::string bytes;          // the whole BIO content the key was parsed from
  std::size_t consumed = 0;   // how much of it the DER parse used
  EVP_PKEY* key = nullptr;    // one reference held by the cache
};

class Cache {
 public:
  Cache() = default;
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;
  ~Cache() {
    for (Entry& e : entries_) EVP_PKEY_free(e.key);
  }
  const Entry* find(std::string_view bytes) const {
    for (const Entry& e : entries_)
      if (e.bytes == bytes) return &e;
    return nullptr;
  }
  // Takes a new reference to `key`.
  void add(std::string_view bytes, std::size_t consumed, EVP_PKEY* key) {
    if (EVP_PKEY_up_ref(key) != 1) return;
    if (entries_.size() == kMaxKeys) {
      EVP_PKEY_free(entries_.front().key);
      entries_.erase(entries_.begin());
    }
    entries_.push_back({std::string(bytes), consumed, key});
  }

 private:
  std::vector<Entry> entries_;
};

// True while verify_dkim runs on this thread: only then does d2i_PUBKEY_bio use the cache,
// so no other caller in the process ever gets a shared key object.
thread_local bool tl_enabled = false;

Cache& thread_cache() {
  thread_local Cache cache;
  return cache;
}

// Enables the cache for the current thread for its lifetime (restoring the previous state).
class Scope {
 public:
  Scope() : previous_(tl_enabled) { tl_enabled = true; }
  ~Scope() { tl_enabled = previous_; }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool previous_;
};

}  // namespace mailsim::auth::key_cache

namespace mailsim::auth {
namespace {

// libopendkim's name for a status, never null: dkim_getresultstr() returns NULL for a code
// missing from its own table, and fmt throws format_error on a null const char*, which
// made verify_dkim throw on garbage signatures (found by mailsim_dkim_fuzz).
std::string stat_text(DKIM_STAT status) {
  const char* text = dkim_getresultstr(status);
  return text ? std::string(text) : fmt::format("DKIM_STAT {}", static_cast<int>(status));
}

// What the key lookup saw for one key name, kept to explain key errors afterwards.
struct KeyFetch {
  dns::DnsStatus status = dns::DnsStatus::nxdomain;
  std::vector<std::string> strings;  // the TXT character-strings as published
  std::string text;                  // joined with no separator (RFC 6376 §3.6.2.2)
  std::size_t record_count = 0;
};

struct VerifyContext {
  TracingResolver* resolver = nullptr;
  Trace* trace = nullptr;
  std::map<std::string, KeyFetch> fetched;  // by "<selector>._domainkey.<domain>"
};

// "<selector>._domainkey.<domain>" in canonical form (world::canonical_name of it: no
// trailing dot, A-Z lowered), built in one string.
std::string key_name(DKIM_SIGINFO* sig) {
  const char* selector = reinterpret_cast<const char*>(dkim_sig_getselector(sig));
  const char* domain = reinterpret_cast<const char*>(dkim_sig_getdomain(sig));
  std::string_view s = selector ? selector : "";
  std::string_view d = domain ? domain : "";
  constexpr std::string_view kMiddle = "._domainkey.";
  std::string name;
  name.reserve(s.size() + kMiddle.size() + d.size());
  name.append(s).append(kMiddle).append(d);
  while (!name.empty() && name.back() == '.') name.pop_back();
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return name;
}

std::string b64encode(const unsigned char* data, std::size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                          static_cast<int>(len));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

std::vector<unsigned char> b64decode(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') clean += c;
  std::vector<unsigned char> out(clean.size() / 4 * 3 + 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0 || clean.size() % 4 != 0) return {};
  std::size_t len = static_cast<std::size_t>(n);
  if (!clean.empty() && clean.back() == '=') --len;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

// Some signers publish p= as a bare PKCS#1 RSAPublicKey instead of the SubjectPublicKeyInfo
// RFC 6376 §3.6.1 specifies; libopendkim cannot read that, dkimpy and Stalwart can. We
// re-wrap such a key as SPKI before handing the record to libopendkim. Other records are
// returned unchanged.
// True when `der` starts SEQUENCE, then INTEGER: a PKCS#1 RSAPublicKey, not an SPKI.
bool looks_like_pkcs1_rsa(const std::vector<unsigned char>& der) {
  if (der.size() < 4 || der[0] != 0x30) return false;
  std::size_t i = 1;
  // DER length: short form (< 0x80) or 0x8N followed by N octets (X.690 §8.1.3).
  if (der[i] & 0x80) i += 1 + (der[i] & 0x7f);
  else i += 1;
  return i < der.size() && der[i] == 0x02;
}

// The record with p= re-wrapped as SPKI when it holds a bare PKCS#1 key; nullopt (use the
// record as it is) otherwise, so that the usual record is not copied.
std::optional<std::string> pkcs1_to_spki(const std::string& record) {
  std::size_t p = std::string::npos;
  for (std::size_t i = 0; i + 1 < record.size(); ++i) {
    if (record[i] == 'p' && (i == 0 || record[i - 1] == ';' || record[i - 1] == ' ' ||
                             record[i - 1] == '\t')) {
      std::size_t j = i + 1;
      while (j < record.size() && (record[j] == ' ' || record[j] == '\t')) ++j;
      if (j < record.size() && record[j] == '=') {
        p = j + 1;
        break;
      }
    }
  }
  if (p == std::string::npos) return std::nullopt;
  std::size_t end = record.find(';', p);
  if (end == std::string::npos) end = record.size();
  std::string_view value = std::string_view(record).substr(p, end - p);
  // The form shows in the first DER octets (tag, length, next tag: at most 1 + 5 + 1), so
  // only a 16-character (12-octet) head of p= is decoded first; nearly every key is an SPKI
  // and needs nothing more. A head that is not clean base64 makes the whole value fail
  // to decode too, so the record is returned unchanged as before.
  std::string head;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    head += c;
    if (head.size() == 16) break;
  }
  std::vector<unsigned char> head_der = b64decode(head);
  if (head_der.empty() || !looks_like_pkcs1_rsa(head_der)) return std::nullopt;
  std::vector<unsigned char> der = b64decode(value);
  if (der.empty()) return std::nullopt;
  // Tell the two forms apart by their first DER element instead of parsing the key: a
  // trial d2i_PUBKEY costs ~270 µs with OpenSSL 3's decoders (measured; a quarter of a
  // whole verification), and libopendkim parses the key again anyway. SPKI is
  // SEQUENCE { SEQUENCE { algorithm … }, BIT STRING } (RFC 5280 §4.1); RSAPublicKey is
  // SEQUENCE { INTEGER n, INTEGER e } (RFC 8017 §A.1.1). Only the latter is re-wrapped.
  if (!looks_like_pkcs1_rsa(der)) return std::nullopt;
  const unsigned char* in = der.data();
  EVP_PKEY* rsa = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &in, static_cast<long>(der.size()));
  if (rsa == nullptr) return std::nullopt;
  unsigned char* out = nullptr;
  int len = i2d_PUBKEY(rsa, &out);
  EVP_PKEY_free(rsa);
  if (len <= 0) return std::nullopt;
  std::string wrapped = b64encode(out, static_cast<std::size_t>(len));
  OPENSSL_free(out);
  return record.substr(0, p) + wrapped + record.substr(end);
}

// libopendkim calls this for each signature it processes (instead of its own resolver).
// RFC 6376 §3.6.2.2: the strings of a TXT key record are concatenated with no separator.
DKIM_CBSTAT key_lookup(DKIM* dkim, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) {
  auto* ctx = static_cast<VerifyContext*>(dkim_get_user_context(dkim));
  if (ctx == nullptr || buf == nullptr || buflen == 0) return DKIM_CBSTAT_ERROR;
  std::string name = key_name(sig);
  dns::Answer answer = ctx->resolver->query(name, world::RrType::TXT);
  KeyFetch& fetch = ctx->fetched[name];
  fetch.status = answer.status;
  // The TXT records of the answer, read in place (the CNAME chain, if any, comes first).
  world::Record* first = nullptr;
  std::size_t count = 0;
  for (auto& r : answer.records) {
    if (r.type != world::RrType::TXT) continue;
    if (first == nullptr) first = &r;
    ++count;
  }
  fetch.record_count = count;
  // RFC 6376 §6.1.2: a query that fails to respond → TEMPFAIL; a key record that does not
  // exist → PERMFAIL ("no key for signature").
  if (answer.temporary_error()) return DKIM_CBSTAT_TRYAGAIN;
  if (!answer.ok() || first == nullptr) {
    if (answer.status == dns::DnsStatus::refused || answer.status == dns::DnsStatus::formerr)
      return DKIM_CBSTAT_ERROR;
    fetch.status = answer.ok() ? dns::DnsStatus::nodata : answer.status;
    return DKIM_CBSTAT_NOTFOUND;
  }
  // RFC 6376 §6.1.2: with several key records "the Verifier can choose one"; we take the
  // first as served (the count is reported in the cause when verification fails). The
  // answer is ours, so its strings are moved, not copied.
  fetch.text = first->text();
  fetch.strings = std::move(first->strings);
  std::optional<std::string> wrapped = pkcs1_to_spki(fetch.text);
  if (wrapped)
    ctx->trace->push_back({TraceStep::Kind::step, fmt::format("key at {} is a bare PKCS#1 RSAPublicKey, not the "
                                    "SubjectPublicKeyInfo RFC 6376 §3.6.1 asks for; "
                                    "accepted as dkimpy and Stalwart do",
                                    name)});
  const std::string& served = wrapped ? *wrapped : fetch.text;
  if (served.size() + 1 > buflen) return DKIM_CBSTAT_ERROR;
  std::memcpy(buf, served.c_str(), served.size() + 1);
  return DKIM_CBSTAT_CONTINUE;
}

// Seconds of clock skew tolerated for t= in the future (libopendkim's default is 300).
constexpr std::int64_t kClockDrift = 300;

struct LibDeleter {
  void operator()(DKIM_LIB* lib) const { dkim_close(lib); }
};
struct DkimDeleter {
  void operator()(DKIM* d) const { dkim_free(d); }
};
using LibPtr = std::unique_ptr<DKIM_LIB, LibDeleter>;
using DkimPtr = std::unique_ptr<DKIM, DkimDeleter>;

LibPtr make_lib() {
  LibPtr lib(dkim_init(nullptr, nullptr));
  if (!lib) throw std::runtime_error("libopendkim: dkim_init failed");
  return lib;
}

// What a fresh DKIM_LIB holds for the options set per call, read once from libopendkim
// itself so that a reused library can be put back exactly as dkim_init() left it.
struct LibDefaults {
  std::uint64_t fixed_time = 0;
  std::uint64_t clock_drift = 0;
  unsigned int min_key_bits = 0;
};

LibDefaults read_defaults(DKIM_LIB* lib) {
  LibDefaults d;
  auto get = [lib](dkim_opts_t opt, void* data, std::size_t len, const char* name) {
    if (dkim_options(lib, DKIM_OP_GETOPT, opt, data, len) != DKIM_STAT_OK)
      throw std::runtime_error(fmt::format("libopendkim: cannot read the default of {}", name));
  };
  get(DKIM_OPTS_FIXEDTIME, &d.fixed_time, sizeof d.fixed_time, "DKIM_OPTS_FIXEDTIME");
  get(DKIM_OPTS_CLOCKDRIFT, &d.clock_drift, sizeof d.clock_drift, "DKIM_OPTS_CLOCKDRIFT");
  get(DKIM_OPTS_MINKEYBITS, &d.min_key_bits, sizeof d.min_key_bits, "DKIM_OPTS_MINKEYBITS");
  return d;
}

// (DKIM_OPTS_FLAGS is always set whole by verify_dkim; signing never sets it.)
// dkim_init() is not cheap to call per message: it runs res_ninit() (a stat and a read of
// /etc/resolv.conf, allocations) for a resolver we never use, as keys come through
// dkim_set_key_lookup. libopendkim's library handle is meant to be long-lived and shared by
// all the per-message handles made from it (dkim_init.html: "called when setting up the
// application"; dkim.html: handles share no memory and may run in separate threads), and
// dkim_options() "can be called at any time after acquiring a library handle". The options
// we set per call (FIXEDTIME, CLOCKDRIFT, FLAGS, MINKEYBITS, SIGNHDRS) are read from the
// library while a handle works, so a handle must not see them change under it: each thread
// keeps its own library for verifying and one for signing, and every call sets all of them
// — to the caller's values or back to the defaults read from the fresh library — before it
// makes its handle, and frees the handle before returning.
enum class LibUse { verify, sign };

struct ThreadLib {
  LibPtr lib;
  LibDefaults defaults;
  bool busy = false;  // a call on this thread is using it (see LibLease)
};

// The calling thread's library for `use`, for the duration of one call. A call that starts
// while another on the same thread is still using it (a key lookup that verifies DKIM
// itself) gets a library of its own. The thread's libraries are closed at thread exit.
class LibLease {
 public:
  explicit LibLease(LibUse use) {
    thread_local ThreadLib verify_lib;
    thread_local ThreadLib sign_lib;
    ThreadLib& mine = use == LibUse::verify ? verify_lib : sign_lib;
    ThreadLib* chosen = &own_;
    if (!mine.busy) {
      chosen = &mine;
      mine.busy = true;
      slot_ = &mine;
    }
    if (!chosen->lib) {
      chosen->lib = make_lib();
      chosen->defaults = read_defaults(chosen->lib.get());
    }
    lib_ = chosen->lib.get();
    defaults_ = chosen->defaults;
  }
  ~LibLease() {
    if (slot_ != nullptr) slot_->busy = false;
  }
  LibLease(const LibLease&) = delete;
  LibLease& operator=(const LibLease&) = delete;

  DKIM_LIB* get() const { return lib_; }
  const LibDefaults& defaults() const { return defaults_; }

 private:
  ThreadLib own_;
  ThreadLib* slot_ = nullptr;
  DKIM_LIB* lib_ = nullptr;
  LibDefaults defaults_;
};

// Sets the clock options of `lib` for one call: the injected clock, or libopendkim's own.
void set_clock(DKIM_LIB* lib, const LibDefaults& defaults, std::optional<std::int64_t> now) {
  std::uint64_t fixed = defaults.fixed_time;
  std::uint64_t drift = defaults.clock_drift;
  if (now) {
    // DKIM_OPTS_FIXEDTIME: libopendkim uses this instead of time() for t=/x= (injected clock).
    fixed = static_cast<std::uint64_t>(*now);
    // libopendkim 2.11 signs with FIXEDTIME but checks x=/t= against time(NULL). Widening
    // the allowed clock drift by |real − fixed| keeps it from rejecting what is valid at the
    // injected time; verify_dkim then applies x= and t= itself at that time (check_times).
    std::int64_t real = static_cast<std::int64_t>(std::time(nullptr));
    drift = static_cast<std::uint64_t>(std::llabs(real - *now)) + kClockDrift;
  }
  dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &fixed, sizeof fixed);
  dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_CLOCKDRIFT, &drift, sizeof drift);
}

std::string algorithm_name(DKIM_SIGINFO* sig) {
  dkim_alg_t alg = 0;
  if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK) return "";
  switch (alg) {
    case DKIM_SIGN_RSASHA1: return "rsa-sha1";
    case DKIM_SIGN_RSASHA256: return "rsa-sha256";
    case DKIM_SIGN_ED25519SHA256: return "ed25519-sha256";
    default: return "unknown";
  }
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/' || c == '=';
}

// The value of `tag` in a key record (everything after its "=" up to the next ";"), "" if
// absent. A view into `text`: the key record is hundreds of characters and this runs for
// every signature described.
std::string_view key_tag(std::string_view text, std::string_view tag) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(';', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(pos, end - pos);
    std::size_t b = part.find_first_not_of(" \t\r\n");
    if (b != std::string_view::npos) {
      std::size_t eq = part.find('=', b);
      if (eq != std::string_view::npos) {
        std::string_view name = part.substr(b, eq - b);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (name == tag) return part.substr(eq + 1);
      }
    }
    pos = end + 1;
  }
  return {};
}

// Explains why a published key could not be used, from what the lookup saw. The common
// real-world causes are a panel that cut the value at 255 octets instead of splitting it
// into strings, and a value split with a stray space or quotes pasted into the text.
std::string explain_key_problem(const KeyFetch& fetch, const std::string& name,
                                const char* lib_error) {
  std::string base = fmt::format("public key record at {} is truncated/unparsable", name);
  std::string p(key_tag(fetch.text, "p"));
  bool cut_at_255 = std::any_of(fetch.strings.begin(), fetch.strings.end(),
                                [](const std::string& s) { return s.size() == 255; }) &&
                    fetch.strings.size() == 1;
  if (cut_at_255)
    return fmt::format("{}: it is one 255-character string, so the key looks cut at 255 "
                       "characters (RFC 6376 §3.6.2.2: longer values are split into several "
                       "strings, joined with no separator) ({})",
                       base, lib_error);
  std::string trimmed = p;
  while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t'))
    trimmed.pop_back();
  auto bad = std::find_if(trimmed.begin(), trimmed.end(), [](char c) {
    return !is_base64_char(c) && c != ' ' && c != '\t' && c != '\r' && c != '\n';
  });
  if (bad != trimmed.end()) {
    std::size_t at = static_cast<std::size_t>(bad - trimmed.begin());
    const char* what = *bad == '"' ? "a quote" : "a stray character";
    return fmt::format("{}: p= contains {} at offset {} ({} strings joined: the value was "
                       "split with a separator inside the key) ({})",
                       base, what, at, fetch.strings.size(), lib_error);
  }
  return fmt::format("{} ({})", base, lib_error);
}

std::string tag_value(DKIM_SIGINFO* sig, const char* tag) {
  u_char* v = dkim_sig_gettagvalue(sig, false, reinterpret_cast<u_char*>(const_cast<char*>(tag)));
  std::string out;
  if (v == nullptr) return out;
  for (const char* c = reinterpret_cast<const char*>(v); *c != '\0'; ++c)
    if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n') out += *c;
  return out;
}

// RFC 6376 §3.5 x= (expiry) and t= (signing time) against the injected clock; "" if fine.
std::string time_problem(DKIM_SIGINFO* sig, std::optional<std::int64_t> now) {
  if (!now) return "";
  std::string x = tag_value(sig, "x");
  std::string t = tag_value(sig, "t");
  try {
    if (!x.empty() && std::stoll(x) < *now)
      return fmt::format("signature expired (x={} is before the clock's {}, RFC 6376 §3.5)", x,
                         *now);
    if (!t.empty() && std::stoll(t) > *now + kClockDrift)
      return fmt::format("signature timestamp t={} is in the future of the clock's {} (RFC "
                         "6376 §3.5)",
                         t, *now);
  } catch (const std::exception&) {
    return "";  // libopendkim already rejects non-numeric x=/t= as a syntax error
  }
  return "";
}

// The first character in p= that RFC 6376 §3.6.1's base64string does not allow (it allows
// the base64 alphabet, "=" and folding white space), described; "" if p= is clean.
std::string invalid_key_chars(const std::string& record) {
  for (char c : key_tag(record, "p"))
    if (!is_base64_char(c) && c != ' ' && c != '\t' && c != '\r' && c != '\n')
      return std::string(1, c);
  return "";
}

DkimSignatureResult describe(DKIM* dkim, DKIM_SIGINFO* sig, const VerifyContext& ctx,
                             std::optional<std::int64_t> now) {
  (void)dkim;
  DkimSignatureResult r;
  const char* d = reinterpret_cast<const char*>(dkim_sig_getdomain(sig));
  const char* s = reinterpret_cast<const char*>(dkim_sig_getselector(sig));
  r.domain = d ? world::canonical_name(d) : "";
  r.selector = s ? s : "";
  r.algorithm = algorithm_name(sig);
  unsigned int bits = 0;
  if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) r.key_bits = static_cast<int>(bits);
  unsigned int flags = dkim_sig_getflags(sig);
  int bh = dkim_sig_getbh(sig);
  if (bh == DKIM_SIGBH_UNTESTED) {
    // libopendkim compares bh= only after the header signature verified. A receiver's
    // report is more useful when it says whether the body itself was changed, so compare
    // the body hash libopendkim computed with bh= here (RFC 6376 §3.7).
    void* hh = nullptr;
    void* bhash = nullptr;
    size_t hhlen = 0, bhlen = 0;
    if (dkim_sig_gethashes(sig, &hh, &hhlen, &bhash, &bhlen) == DKIM_STAT_OK &&
        bhash != nullptr && bhlen > 0) {
      std::string computed = b64encode(static_cast<const unsigned char*>(bhash), bhlen);
      std::string published = tag_value(sig, "bh");
      if (!published.empty()) bh = computed == published ? DKIM_SIGBH_MATCH : DKIM_SIGBH_MISMATCH;
    }
  }
  r.body_hash_ok = bh == DKIM_SIGBH_MATCH;
  int err = dkim_sig_geterror(sig);
  const char* err_text = dkim_sig_geterrorstr(err);
  std::string name = key_name(sig);
  auto it = ctx.fetched.find(name);
  std::string who;
  who.reserve(5 + r.domain.size() + r.selector.size());
  who.append("d=").append(r.domain).append(" s=").append(r.selector);
  // libopendkim reports no size for ed25519 keys; they are always 256 bits (RFC 8032 §5.1.5).
  if (r.algorithm == "ed25519-sha256" && r.key_bits == 0 && it != ctx.fetched.end() &&
      !it->second.text.empty() && err != DKIM_SIGERROR_KEYDECODE)
    r.key_bits = 256;

  std::string late = time_problem(sig, now);
  std::string bad_p = it != ctx.fetched.end() ? invalid_key_chars(it->second.text) : "";
  if (!bad_p.empty()) {
    // libopendkim's base64 decoder skips characters outside the alphabet, so it may accept
    // a key RFC 6376 §3.6.1 calls malformed (p= is base64 with optional FWS only). A
    // receiver that follows the RFC rejects it: key syntax error → PERMFAIL.
    r.result = Result::permerror;
    r.cause = "DKIM signature " + who + ": " +
              explain_key_problem(it->second, name, "p= is not base64 (RFC 6376 §3.6.1)") + ".";
  } else if (!late.empty()) {
    r.result = Result::fail;
    r.cause = fmt::format("DKIM signature {}: {}.", who, late);
  } else if ((flags & DKIM_SIGFLAG_PASSED) != 0 && bh == DKIM_SIGBH_MATCH) {
    r.result = Result::pass;
    r.cause = fmt::format("DKIM signature {} ({}, {}-bit key) verifies.", who, r.algorithm,
                          r.key_bits);
  } else if (bh == DKIM_SIGBH_MISMATCH) {
    // RFC 6376 §3.7: the body hash computed does not match bh= → the body was altered.
    r.result = Result::fail;
    r.cause = fmt::format("DKIM signature {}: body hash did not verify (the body was changed "
                          "after signing, RFC 6376 §3.7).",
                          who);
  } else {
    switch (err) {
      case DKIM_SIGERROR_NOKEY:
        // RFC 6376 §6.1.2: no key record → PERMFAIL "no key for signature"; RFC 8601
        // §2.7.1 reports an unrecoverable verification error as permerror.
        r.result = Result::permerror;
        r.cause = fmt::format("DKIM signature {}: no key for signature — {} has no TXT "
                              "record ({}).",
                              who, name,
                              it != ctx.fetched.end() ? to_string(it->second.status)
                                                      : std::string_view("not queried"));
        break;
      case DKIM_SIGERROR_KEYFAIL:
        // RFC 6376 §6.1.2: the key query failed to respond → TEMPFAIL.
        r.result = Result::temperror;
        r.cause = fmt::format("DKIM signature {}: the key query for {} failed temporarily ({}).",
                              who, name,
                              it != ctx.fetched.end() ? to_string(it->second.status)
                                                      : std::string_view("no answer"));
        break;
      case DKIM_SIGERROR_BADSIG:
        r.result = Result::fail;
        r.cause = fmt::format("DKIM signature {}: signature did not verify (signed header "
                              "fields were changed, or the published key is not the "
                              "signing key).",
                              who);
        break;
      case DKIM_SIGERROR_EXPIRED:
        r.result = Result::fail;
        r.cause = fmt::format("DKIM signature {}: signature expired (x= is in the past, RFC "
                              "6376 §3.5).",
                              who);
        break;
      case DKIM_SIGERROR_KEYTOOSMALL:
        r.result = Result::permerror;
        r.cause = fmt::format("DKIM signature {}: the {}-bit key is too small (RFC 8301 §3.2: "
                              "verifiers must not accept RSA keys under 1024 bits).",
                              who, r.key_bits);
        break;
      case DKIM_SIGERROR_KEYDECODE:
      case DKIM_SIGERROR_DNSSYNTAX:
      case DKIM_SIGERROR_KEYVERSION:
      case DKIM_SIGERROR_KEYTYPEUNKNOWN:
      case DKIM_SIGERROR_KEYTYPEMISSING:
      case DKIM_SIGERROR_MULTIREPLY:
        // RFC 6376 §6.1.2 / §3.6.1: an unusable key record → PERMFAIL (key syntax error).
        r.result = Result::permerror;
        r.cause = "DKIM signature " + who + ": " +
                  (it != ctx.fetched.end()
                       ? explain_key_problem(it->second, name, err_text ? err_text : "")
                       : std::string("key record unusable: ") + (err_text ? err_text : "")) +
                  ".";
        break;
      case DKIM_SIGERROR_KEYREVOKED:
        r.result = Result::permerror;
        r.cause = fmt::format("DKIM signature {}: the key at {} is revoked (empty p=, RFC 6376 "
                              "§3.6.1).",
                              who, name);
        break;
      default:
        // Signature syntax errors and the rest: RFC 6376 §6.1.1 PERMFAIL.
        r.result = Result::permerror;
        r.cause = fmt::format("DKIM signature {}: {} (libopendkim error {}).", who,
                              err_text ? err_text : "not verifiable", err);
        break;
    }
  }
  return r;
}

}  // namespace

std::vector<std::string> DkimResult::passing_domains() const {
  std::vector<std::string> out;
  for (const auto& s : signatures)
    if (s.result == Result::pass && std::find(out.begin(), out.end(), s.domain) == out.end())
      out.push_back(s.domain);
  return out;
}

DkimResult verify_dkim(const Message& message, dns::Resolver& resolver,
                       const DkimVerifyOptions& options) {
  DkimResult out;
  if (message.find("DKIM-Signature") == nullptr) {
    out.result = Result::none;
    out.cause = "The message carries no DKIM-Signature header (RFC 6376 §6.1: result none).";
    return out;
  }
  TracingResolver tracing(resolver, out.trace);
  VerifyContext ctx;
  ctx.resolver = &tracing;
  ctx.trace = &out.trace;
  LibLease lib(LibUse::verify);
  set_clock(lib.get(), lib.defaults(), options.now);
  // Keep handles for signatures libopendkim cannot parse, so each one is reported.
  unsigned int flags = DKIM_LIBFLAGS_BADSIGHANDLES;
  dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
  unsigned int bits = options.min_rsa_bits > 0 ? static_cast<unsigned int>(options.min_rsa_bits)
                                               : lib.defaults().min_key_bits;
  dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &bits, sizeof bits);
  dkim_set_key_lookup(lib.get(), key_lookup);

  DKIM_STAT status = DKIM_STAT_OK;
  DkimPtr dkim(dkim_verify(lib.get(), reinterpret_cast<const u_char*>("mailsim"), nullptr,
                           &status));
  if (!dkim) {
    out.result = Result::temperror;
    out.cause = fmt::format("libopendkim could not start verification: {}.",
                            stat_text(status));
    return out;
  }
  dkim_set_user_context(dkim.get(), &ctx);
  key_cache::Scope use_key_cache;  // libopendkim parses keys in dkim_eoh/dkim_eom
  // dkim_header() and dkim_body() take u_char* but only read it: libopendkim copies each
  // header field into its own storage (dkim.c, dkim_header) and canonicalises the body
  // into its own buffers (dkim-canon.c), so the message's own text is handed over as it
  // is, not copied first (verify_dkim_leaves_the_message_alone checks that it is unchanged).
  std::string built;  // only for a header field made in code, with no raw text
  for (const auto& h : message.headers) {
    std::string_view field = h.raw;
    if (field.empty()) {
      built.clear();
      built.append(h.name).append(": ").append(h.value);
      field = built;
    }
    dkim_header(dkim.get(), const_cast<u_char*>(reinterpret_cast<const u_char*>(field.data())),
                field.size());
  }
  status = dkim_eoh(dkim.get());
  if (status == DKIM_STAT_OK) {
    const std::string& body = message.body;
    if (!body.empty())
      dkim_body(dkim.get(), const_cast<u_char*>(reinterpret_cast<const u_char*>(body.data())),
                body.size());
    status = dkim_eom(dkim.get(), nullptr);
  }

  DKIM_SIGINFO** sigs = nullptr;
  int nsigs = 0;
  if (dkim_getsiglist(dkim.get(), &sigs, &nsigs) == DKIM_STAT_OK && sigs != nullptr) {
    for (int i = 0; i < nsigs; ++i) {
      out.signatures.push_back(describe(dkim.get(), sigs[i], ctx, options.now));
      out.trace.push_back({TraceStep::Kind::step, out.signatures.back().cause});
    }
  }
  if (out.signatures.empty() &&
      (status == DKIM_STAT_CBTRYAGAIN || status == DKIM_STAT_KEYFAIL)) {
    // RFC 6376 §6.1.2: the key query failed to respond → TEMPFAIL.
    out.result = Result::temperror;
    std::string what;
    for (const auto& [name, fetch] : ctx.fetched)
      what += fmt::format("{}{} → {}", what.empty() ? "" : ", ", name, to_string(fetch.status));
    out.cause = fmt::format("The DKIM key query failed temporarily ({}): temperror, a later "
                            "attempt may verify.",
                            what.empty() ? stat_text(status) : what);
    return out;
  }
  if (out.signatures.empty()) {
    // Every DKIM-Signature field failed to parse before libopendkim made a handle.
    out.result = Result::permerror;
    const char* why = dkim_geterror(dkim.get());
    out.cause = fmt::format("The DKIM-Signature header could not be parsed: {} (RFC 6376 "
                            "§6.1.1: PERMFAIL).",
                            why && *why ? why : stat_text(status));
    return out;
  }
  // RFC 6376 §6.1 / RFC 8601 §2.7.1: a message passes if any signature verifies; otherwise
  // a temporary error (which a retry could fix) is reported before a definitive failure.
  auto pick = [&](Result r) {
    return std::find_if(out.signatures.begin(), out.signatures.end(),
                        [r](const DkimSignatureResult& s) { return s.result == r; });
  };
  auto chosen = pick(Result::pass);
  if (chosen == out.signatures.end()) chosen = pick(Result::temperror);
  if (chosen == out.signatures.end()) chosen = out.signatures.begin();
  out.result = chosen->result;
  out.cause = chosen->cause;
  return out;
}

std::string sign_dkim(const Message& message, const DkimKey& key,
                      const DkimSignOptions& options) {
  LibLease lib(LibUse::sign);
  set_clock(lib.get(), lib.defaults(), options.now);
  // The header fields to sign: a NULL-terminated list (DKIM_OPTS_SIGNHDRS). Only those
  // present in the message end up in h= (RFC 6376 §5.4).
  std::vector<std::string> names = options.headers;
  std::vector<const char*> list;
  for (const auto& n : names) list.push_back(n.c_str());
  list.push_back(nullptr);
  dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, list.data(), sizeof(char**));
  // The simulator must be able to sign with weak keys (a breakage teaches what receivers do
  // with them), so signing accepts any size; verifiers apply RFC 8301's floor.
  unsigned int min_bits = 1;
  dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &min_bits, sizeof min_bits);

  dkim_alg_t alg = key.algorithm == "ed25519-sha256" ? DKIM_SIGN_ED25519SHA256
                   : key.algorithm == "rsa-sha256"   ? DKIM_SIGN_RSASHA256
                                                     : -1;
  if (alg < 0)
    throw std::invalid_argument(fmt::format(
        "sign_dkim: unsupported algorithm \"{}\" (use rsa-sha256 or ed25519-sha256)",
        key.algorithm));
  std::string pem = key.private_key_pem;
  DKIM_STAT status = DKIM_STAT_OK;
  DkimPtr dkim(dkim_sign(lib.get(), reinterpret_cast<const u_char*>("mailsim"), nullptr,
                         reinterpret_cast<dkim_sigkey_t>(pem.data()),
                         reinterpret_cast<const u_char*>(key.selector.c_str()),
                         reinterpret_cast<const u_char*>(key.domain.c_str()),
                         DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, alg, -1, &status));
  if (!dkim)
    throw std::runtime_error(fmt::format("sign_dkim: libopendkim refused the signing key for "
                                         "d={} s={}: {}",
                                         key.domain, key.selector, stat_text(status)));
  for (const auto& h : message.headers) {
    std::string field = h.raw.empty() ? h.name + ": " + h.value : h.raw;
    dkim_header(dkim.get(), reinterpret_cast<u_char*>(field.data()), field.size());
  }
  dkim_eoh(dkim.get());
  std::string body = message.body;
  if (!body.empty()) dkim_body(dkim.get(), reinterpret_cast<u_char*>(body.data()), body.size());
  status = dkim_eom(dkim.get(), nullptr);
  if (status != DKIM_STAT_OK) {
    const char* why = dkim_geterror(dkim.get());
    throw std::runtime_error(fmt::format("sign_dkim: signing failed for d={} s={}: {}",
                                         key.domain, key.selector,
                                         why && *why ? why : stat_text(status)));
  }
  const std::string prefix = "DKIM-Signature: ";
  u_char* value = nullptr;
  size_t len = 0;
  status = dkim_getsighdr_d(dkim.get(), prefix.size(), &value, &len);
  if (status != DKIM_STAT_OK || value == nullptr)
    throw std::runtime_error(fmt::format("sign_dkim: no signature header produced: {}",
                                         stat_text(status)));
  // libopendkim folds with bare "\n\t"; a header field on the wire folds with CRLF.
  std::string raw(reinterpret_cast<const char*>(value), len);
  std::string header = prefix;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) header += '\r';
    header += raw[i];
  }
  header += "\r\n";
  return header;
}

}  // namespace mailsim::auth

// ---------------------------------------------------------------------------------------
// libopendkim turns every fetched key into an EVP_PKEY with d2i_PUBKEY_bio() on a memory
// BIO (dkim.c, dkim_sig_process). With OpenSSL 3 that call builds an OSSL_DECODER context
// for every key, which enumerates all providers' decoders: measured at ~70% of a whole
// verify_dkim() and ~45% of the receiving MTA's CPU, for a 300-byte DER parse. This
// definition takes precedence over libcrypto's for the process (libopendkim's reference
// binds to the first definition in lookup order) and parses a SubjectPublicKeyInfo holding
// an rsaEncryption key (RFC 6376 §3.6.1, RFC 8017 §A.1.1) with OpenSSL's own DER decoder
// for that type, d2i_RSA_PUBKEY, which skips the decoder framework. While verify_dkim runs
// on the thread, a key parsed from byte-identical DER earlier on the same thread is handed
// out again (another reference to it, see key_cache above); every signature is still
// verified with RSA_verify. libopendkim only reads the key (EVP_PKEY_get1_RSA, RSA_size,
// RSA_verify) and frees its reference in dkim_free. Anything else (other BIO types,
// ed25519, RSA-PSS, malformed DER) goes to libcrypto's d2i_PUBKEY_bio unchanged, so
// acceptance and errors stay OpenSSL's.
namespace {

// Consumes `n` bytes of `bp`, as ASN1_d2i_bio does with what it parsed.
void consume(BIO* bp, std::size_t n) {
  unsigned char sink[256];
  while (n > 0) {
    int got = BIO_read(bp, sink, static_cast<int>(std::min(n, sizeof sink)));
    if (got <= 0) break;
    n -= static_cast<std::size_t>(got);
  }
}

EVP_PKEY* hand_out(EVP_PKEY* pkey, EVP_PKEY** a) {
  if (a != nullptr) {
    EVP_PKEY_free(*a);
    *a = pkey;
  }
  return pkey;
}

}  // namespace

extern "C" EVP_PKEY* d2i_PUBKEY_bio(BIO* bp, EVP_PKEY** a) {
  using Real = EVP_PKEY* (*)(BIO*, EVP_PKEY**);
  static const Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "d2i_PUBKEY_bio"));
  namespace kc = mailsim::auth::key_cache;
  if (bp != nullptr && BIO_method_type(bp) == BIO_TYPE_MEM) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bp, &data);
    if (len > 0 && data != nullptr) {
      std::string_view bytes(data, static_cast<std::size_t>(len));
      if (kc::tl_enabled) {
        if (const kc::Entry* hit = kc::thread_cache().find(bytes);
            hit != nullptr && EVP_PKEY_up_ref(hit->key) == 1) {
          consume(bp, hit->consumed);
          return hand_out(hit->key, a);
        }
      }
      ERR_set_mark();  // a miss here must leave no error behind for the fallback's caller
      const auto* start = reinterpret_cast<const unsigned char*>(data);
      const unsigned char* p = start;
      RSA* rsa = d2i_RSA_PUBKEY(nullptr, &p, len);
      if (rsa != nullptr && RSA_test_flags(rsa, RSA_FLAG_TYPE_MASK) == RSA_FLAG_TYPE_RSA) {
        EVP_PKEY* pkey = EVP_PKEY_new();
        if (pkey != nullptr && EVP_PKEY_assign_RSA(pkey, rsa) == 1) {
          ERR_pop_to_mark();
          std::size_t consumed = static_cast<std::size_t>(p - start);
          if (kc::tl_enabled) kc::thread_cache().add(bytes, consumed, pkey);
          consume(bp, consumed);
          return hand_out(pkey, a);
        }
        EVP_PKEY_free(pkey);
      }
      RSA_free(rsa);
      ERR_pop_to_mark();
    }
  }
  return real != nullptr ? real(bp, a) : nullptr;
}
