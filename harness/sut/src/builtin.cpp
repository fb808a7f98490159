// The builtin SUT: submission with DKIM signing, a queue on the simulated clock, MX lookup
// through the injected Resolver, delivery over SMTP with opportunistic STARTTLS, and an
// inbound MX storing mail for its domains. Modelled on poste.io's Haraka pipeline
// (../shared/reference/posteio.md "Outbound path").
#include "builtin.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>  // before Boost 1.74 awaitable.hpp, which needs std::exchange

#include <boost/asio/ssl/context.hpp>
#include <fmt/core.h>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/world/text.hpp"
#include "mailsim/smtp/client.hpp"
#include "mailsim/smtp/server.hpp"
#include "mailsim/sut/attempt.hpp"

namespace mailsim::sut {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::uint64_t fnv1a(std::string_view text, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ULL ^ seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

using world::lower;

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string{} : lower(address.substr(at + 1));
}

// LF or CRLF text → CRLF text ending with CRLF (RFC 5321 §2.3.8: lines end in CRLF).
std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

// One target of a delivery: an exchange and one of its addresses.
struct Target {
  std::string mx_host;
  std::string address;
};

// The outcome of MX resolution (RFC 5321 §5.1).
struct Resolution {
  std::vector<Target> targets;
  std::optional<AttemptOutcome> failure;  // bounced (no such domain, null MX) or deferred
  std::string detail;
};

struct Job {
  std::string id;
  std::string mail_from;
  std::string domain;
  std::vector<std::string> recipients;
  std::string data;  // signed, CRLF
  int tries = 0;
  std::int64_t next_at = 0;
  SubmissionState state = SubmissionState::queued;
  std::vector<DeliveryAttempt> attempts;
};

class BuiltinSut final : public Sut {
 public:
  ~BuiltinSut() override { stop(); }
  std::string kind() const override { return "builtin"; }

  void start(const SutContext& context) override {
    if (started_) throw SutError("builtin SUT: start() called twice");
    if (!context.resolver) throw SutError("builtin SUT: the context has no resolver");
    if (!context.clock) throw SutError("builtin SUT: the context has no simulated clock");
    if (!context.dial || !context.listen)
      throw SutError("builtin SUT: the context has no fabric (dial/listen)");
    if (context.host_name.empty()) throw SutError("builtin SUT: the context has no host name");
    ctx_ = context;
    timeout_ = std::chrono::milliseconds(ctx_.io_timeout_ms);

    smtp::ServerOptions options;
    Endpoint where = ctx_.listen(ctx_.host_name, 25);
    options.address = where.address;
    options.port = where.port;
    options.dialogue.hostname = ctx_.host_name;
    options.dialogue.greeting_text = "ESMTP mailsim builtin";
    options.command_timeout = timeout_;
    options.tls_handshake_timeout = timeout_;
    if (ctx_.starttls && !ctx_.tls.server_cert_pem.empty() && !ctx_.tls.server_key_pem.empty()) {
      auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);  // RFC 8996
      tls->use_certificate_chain(
          asio::buffer(ctx_.tls.server_cert_pem.data(), ctx_.tls.server_cert_pem.size()));
      tls->use_private_key(
          asio::buffer(ctx_.tls.server_key_pem.data(), ctx_.tls.server_key_pem.size()),
          asio::ssl::context::pem);
      options.tls = std::move(tls);
    }
    if (ctx_.virtual_for) {
      options.client_address = [this](const tcp::endpoint& peer) {
        std::string wire = peer.address().to_string();
        std::string v = ctx_.virtual_for(wire);
        return v.empty() ? wire : v;
      };
    }
    try {
      inbound_ = std::make_unique<smtp::ServerThread>(
          options, [this](const smtp::ConnectionInfo&) {
            return std::make_unique<InboundHandler>(*this);
          });
    } catch (const std::exception& e) {
      throw SutError(fmt::format("builtin SUT: cannot listen on {}:{} for {}:25: {}",
                                 where.address, where.port, ctx_.host_name, e.what()));
    }
    started_ = true;
    log(fmt::format("started: {} inbound MX on {}:{} (virtual port 25)", ctx_.host_name,
                    where.address, where.port));
  }

  ProvisionResult provision(const DomainSpec& spec) override {
    require_started("provision");
    std::string domain = lower(spec.domain);
    if (domain.empty()) throw SutError("builtin SUT: provision() needs a domain");
    std::lock_guard lock(mutex_);
    for (const auto& mailbox : spec.mailboxes) {
      if (domain_of(mailbox) != domain)
        throw SutError(fmt::format("builtin SUT: mailbox '{}' is not in domain '{}'", mailbox,
                                   domain));
      mailboxes_[lower(mailbox)];
    }
    std::string selector = spec.dkim_selector.empty()
                               ? builtin_selector(domain, ctx_.seed, ctx_.clock->now())
                               : spec.dkim_selector;
    // poste.io generates the key on the server (guide §6); we derive it from the run seed
    // so two runs publish the same record.
    auth::DkimKey key = auth::generate_dkim_key(domain, selector, fnv1a(domain, ctx_.seed),
                                                spec.dkim_bits);
    DkimPublication pub{domain, selector, selector + "._domainkey." + domain, key.public_txt,
                        key.algorithm, key.bits};
    keys_[domain] = std::move(key);
    log_locked(fmt::format("provisioned {} ({} mailboxes), DKIM selector {} ({}-bit {})", domain,
                    spec.mailboxes.size(), selector, pub.bits, pub.algorithm));
    return ProvisionResult{{pub}};
  }

  std::string submit(const Submission& submission) override {
    require_started("submit");
    if (submission.envelope.rcpt_to.empty())
      throw SutError("builtin SUT: a submission needs at least one recipient");
    std::string data = to_crlf(submission.data);
    std::lock_guard lock(mutex_);
    std::string id = fmt::format("{:08X}{:04X}", static_cast<std::uint32_t>(fnv1a("q", ctx_.seed)),
                                 ++submissions_);
    // Relayed as submitted: no Date/Message-ID is added, so a probe that leaves them out
    // (MessageShape::missing_headers) reaches the receiver without them.
    data = dkim_sign(data);
    // One queue entry per recipient domain, as every MTA splits a message by next hop.
    std::map<std::string, std::vector<std::string>> by_domain;
    for (const auto& rcpt : submission.envelope.rcpt_to) by_domain[domain_of(rcpt)].push_back(rcpt);
    for (auto& [domain, rcpts] : by_domain) {
      Job job;
      job.id = id;
      job.mail_from = submission.envelope.mail_from;
      job.domain = domain;
      job.recipients = rcpts;
      job.data = data;
      job.next_at = ctx_.clock->now();
      jobs_.push_back(std::move(job));
    }
    log_locked(fmt::format("{}: queued from <{}> to {} domain(s)", id,
                           submission.envelope.mail_from, by_domain.size()));
    return id;
  }

  void run_queue(const std::atomic<bool>* cancel) override {
    require_started("run_queue");
    for (;;) {
      if (cancel && cancel->load()) {
        log("queue run cancelled");
        return;
      }
      Job* due = nullptr;
      {
        std::lock_guard lock(mutex_);
        for (auto& job : jobs_)
          if (job.state == SubmissionState::queued && (!due || job.next_at < due->next_at))
            due = &job;
      }
      if (!due) return;
      // Deferrals cost no real time: jump the simulated clock to the next retry.
      if (due->next_at > ctx_.clock->now()) ctx_.clock->set(due->next_at);
      attempt(*due);
    }
  }

  SubmissionStatus status(std::string_view id) const override {
    std::lock_guard lock(mutex_);
    SubmissionStatus out;
    out.id = std::string(id);
    bool found = false;
    // Worst state across the recipient domains: a bounce anywhere is what the sender sees.
    auto rank = [](SubmissionState s) {
      switch (s) {
        case SubmissionState::delivered: return 0;
        case SubmissionState::queued: return 1;
        case SubmissionState::deferred: return 2;
        case SubmissionState::failed: return 3;
        case SubmissionState::bounced: return 4;
      }
      return 0;
    };
    for (const auto& job : jobs_) {
      if (job.id != id) continue;
      if (!found || rank(job.state) > rank(out.state)) out.state = job.state;
      found = true;
      out.attempts.insert(out.attempts.end(), job.attempts.begin(), job.attempts.end());
    }
    if (!found) throw SutError(fmt::format("builtin SUT: no submission '{}'", id));
    return out;
  }

  std::vector<StoredMessage> mailbox(std::string_view address) const override {
    std::lock_guard lock(mutex_);
    auto it = mailboxes_.find(lower(address));
    if (it == mailboxes_.end())
      throw SutError(fmt::format("builtin SUT: no mailbox '{}'", address));
    return it->second;
  }

  std::vector<std::string> logs() const override {
    std::lock_guard lock(mutex_);
    return logs_;
  }

  void stop() override {
    if (!started_) return;
    started_ = false;
    if (inbound_) inbound_->stop();
    inbound_.reset();
    log("stopped");
  }

 private:
  void require_started(std::string_view what) const {
    if (!started_) throw SutError(fmt::format("builtin SUT: {}() before start()", what));
  }

  void log(std::string line) {
    std::lock_guard lock(mutex_);
    log_locked(std::move(line));
  }
  void log_locked(std::string line) {
    logs_.push_back(fmt::format("[t+{}s] {}", ctx_.clock ? ctx_.clock->now() - start_time() : 0,
                                line));
  }
  std::int64_t start_time() const { return SimClock::kEpoch; }

  // Signs for the From-header domain when we hold its key (haraka-plugin-dkim signs
  // relayed mail for the From domain, posteio.md).
  std::string dkim_sign(const std::string& data) {
    auto message = auth::Message::parse(data);
    std::string domain = message.from_domain();
    auto it = keys_.find(domain);
    if (it == keys_.end()) {
      log_locked(fmt::format("dkim: no key for From domain '{}', not signed", domain));
      return data;
    }
    auth::DkimSignOptions options;
    options.now = ctx_.clock->now();
    std::string header = auth::sign_dkim(message, it->second, options);
    log_locked(fmt::format("dkim: signed for {} with selector {}", domain, it->second.selector));
    return header + data;
  }

  Resolution resolve(const std::string& domain) {
    Resolution out;
    dns::Answer mx = ctx_.resolver->query(domain, dns::RrType::MX);
    std::vector<dns::Record> exchanges;
    if (mx.ok()) {
      exchanges = mx.of_type(dns::RrType::MX);
      // Lowest preference first; equal preferences in name order, so runs are stable
      // (RFC 5321 §5.1 lets us pick any order among equals).
      std::stable_sort(exchanges.begin(), exchanges.end(), [](const auto& a, const auto& b) {
        return a.preference != b.preference ? a.preference < b.preference : a.value < b.value;
      });
      // RFC 7505 null MX: "." — the domain accepts no mail.
      if (exchanges.size() == 1 && (exchanges[0].value.empty() || exchanges[0].value == ".")) {
        out.failure = AttemptOutcome::bounced;
        out.detail = fmt::format("{} publishes a null MX (RFC 7505): it accepts no mail", domain);
        return out;
      }
    } else if (mx.status == dns::DnsStatus::nodata) {
      // RFC 5321 §5.1: no MX → the domain itself is the implicit MX (A fallback).
      dns::Record implicit;
      implicit.value = domain;
      exchanges.push_back(implicit);
    } else if (mx.status == dns::DnsStatus::nxdomain) {
      out.failure = AttemptOutcome::bounced;
      out.detail = fmt::format("MX {}: NXDOMAIN, the domain does not exist", domain);
      return out;
    } else {
      out.failure = AttemptOutcome::deferred;
      out.detail = fmt::format("MX {}: {}", domain, mx.summary());
      return out;
    }
    // With an IPv6 address of its own the SUT tries AAAA before A, as dual-stack MTAs do by
    // default (RFC 6724 §10.3 prefers IPv6); then an IPv6 PTR problem shows up (ipv6.add).
    bool have_v6 = false;
    if (ctx_.world) {
      if (const world::Host* me = ctx_.world->host(ctx_.host_name))
        for (const auto& address : me->addresses) have_v6 = have_v6 || world::is_ipv6(address);
    }
    std::vector<dns::RrType> families = {dns::RrType::A};
    if (have_v6) families.insert(families.begin(), dns::RrType::AAAA);
    std::vector<std::string> misses;
    for (const auto& exchange : exchanges) {
      for (dns::RrType family : families) {
        dns::Answer a = ctx_.resolver->query(exchange.value, family);
        if (!a.ok()) {
          misses.push_back(
              fmt::format("{} {}: {}", world::to_string(family), exchange.value, a.summary()));
          continue;
        }
        for (const auto& rec : a.of_type(family)) out.targets.push_back({exchange.value, rec.value});
      }
    }
    if (out.targets.empty()) {
      out.failure = AttemptOutcome::deferred;
      std::string joined;
      for (const auto& m : misses) joined += (joined.empty() ? "" : "; ") + m;
      out.detail = fmt::format("no address for any MX of {} ({})", domain, joined);
    }
    return out;
  }

  void attempt(Job& job) {
    DeliveryAttempt a;
    a.submission_id = job.id;
    a.recipient_domain = job.domain;
    a.recipients = job.recipients;
    a.try_number = ++job.tries;
    a.at = ctx_.clock->now();
    const bool last_try = job.tries > static_cast<int>(builtin_retry_delays().size());

    Resolution resolution = resolve(job.domain);
    if (resolution.failure) {
      a.outcome = *resolution.failure;
      a.detail = resolution.detail;
    } else {
      bool decided = false;
      for (const auto& target : resolution.targets) {
        a.mx_host = target.mx_host;
        a.address = target.address;
        a.transcript.clear();
        a.tls = false;
        a.connected = false;
        decided = deliver_to(target, job, a);
        if (decided) break;
      }
      if (!decided) {
        a.outcome = AttemptOutcome::deferred;
        a.detail = fmt::format("could not connect to any MX of {}: {}", job.domain,
                               a.connect_error);
      }
    }
    if (a.outcome == AttemptOutcome::deferred && last_try) {
      a.detail += fmt::format(" (gave up after {} tries)", job.tries);
      if (!a.connected) a.outcome = AttemptOutcome::unreachable;
    }
    std::lock_guard lock(mutex_);
    switch (a.outcome) {
      case AttemptOutcome::delivered: job.state = SubmissionState::delivered; break;
      case AttemptOutcome::bounced: job.state = SubmissionState::bounced; break;
      case AttemptOutcome::unreachable: job.state = SubmissionState::failed; break;
      case AttemptOutcome::deferred:
        if (last_try) {
          job.state = SubmissionState::deferred;
        } else {
          job.next_at = ctx_.clock->now() + builtin_retry_delays()[job.tries - 1];
        }
        break;
    }
    log_locked(fmt::format("{}: try {} to {} via {} [{}]: {} — {}", job.id, a.try_number,
                           job.domain, a.mx_host.empty() ? "-" : a.mx_host,
                           a.address.empty() ? "-" : a.address, to_string(a.outcome), a.detail));
    job.attempts.push_back(std::move(a));
  }

  // Connects and runs one dialogue with the fakes/smtp client (STARTTLS when offered and
  // allowed, PIPELINING when offered). Returns false when the connection could not be made
  // (the caller tries the next address); true when the dialogue decided the attempt.
  bool deliver_to(const Target& target, const Job& job, DeliveryAttempt& a) {
    Route route = ctx_.dial(ctx_.host_name, target.address, 25);
    if (!route.ok) {
      a.connect_error = route.error;
      return false;
    }
    smtp::ClientOptions options;
    options.host = route.wire_address;
    options.port = route.wire_port;
    options.bind_address = route.local_address;
    options.helo_name = ctx_.host_name;  // HELO = the host name, as poste.io (posteio.md)
    // Opportunistic TLS as MTAs do by default (RFC 7435): encrypt, do not authenticate.
    options.tls = ctx_.starttls ? smtp::TlsMode::opportunistic : smtp::TlsMode::never;
    options.verify = false;
    options.verify_name = target.mx_host;
    options.connect_timeout = timeout_;
    options.command_timeout = timeout_;
    options.data_timeout = timeout_;
    smtp::OutgoingMessage message;
    message.mail_from = job.mail_from;
    message.rcpt_to = job.recipients;
    message.data = job.data;
    smtp::ClientResult result = smtp::send_mail(options, message);
    record_client_result(result, target.mx_host, a);
    return a.connected;
  }

  // ---- inbound MX: a fakes/smtp server whose handler knows our mailboxes --------------

  class InboundHandler final : public smtp::SessionHandler {
   public:
    explicit InboundHandler(BuiltinSut& sut) : sut_(sut) {}
    smtp::Reply on_rcpt(const smtp::SessionContext&, std::string_view to,
                        const smtp::EsmtpParams&) override {
      std::string rcpt = lower(to);
      bool known_mailbox = false;
      bool our_domain = false;
      {
        std::lock_guard lock(sut_.mutex_);
        known_mailbox = sut_.mailboxes_.count(rcpt) > 0;
        our_domain = sut_.keys_.count(domain_of(rcpt)) > 0;
      }
      if (known_mailbox) return smtp::make_reply(250, "2.1.5", "Ok");
      if (our_domain)
        return smtp::make_reply(550, "5.1.1",
                                "<" + rcpt + ">: Recipient address rejected: no such user",
                                "no mailbox of that name in a provisioned domain");
      // Not an open relay: only authenticated submission may send elsewhere.
      return smtp::make_reply(554, "5.7.1", "<" + rcpt + ">: Relay access denied",
                              "recipient outside the SUT's domains");
    }
    smtp::Reply on_data_end(const smtp::SessionContext& ctx, std::string_view message) override {
      sut_.store(ctx.client_ip, ctx.helo, ctx.tls.used, ctx.mail_from, ctx.rcpt_to,
                 std::string(message));
      return smtp::make_reply(250, "2.0.0", "Ok: queued");
    }

   private:
    BuiltinSut& sut_;
  };

  void store(const std::string& client_ip, const std::string& helo, bool tls,
             const std::string& mail_from, const std::vector<std::string>& rcpts,
             const std::string& data) {
    std::lock_guard lock(mutex_);
    std::int64_t now = ctx_.clock->now();
    // RFC 5321 §4.4: the receiving server prepends a Received: trace field.
    std::string received = fmt::format("Received: from {} ({})\r\n\tby {} with {}; {}\r\n", helo,
                                       client_ip, ctx_.host_name, tls ? "ESMTPS" : "ESMTP",
                                       rfc5322_date(now));
    for (const auto& rcpt : rcpts) {
      StoredMessage m;
      m.mailbox = rcpt;
      m.client_ip = client_ip;
      m.helo = helo;
      m.tls = tls;
      m.envelope.mail_from = mail_from;
      m.envelope.rcpt_to = rcpts;
      m.data = received + data;
      m.at = now;
      mailboxes_[rcpt].push_back(std::move(m));
    }
    log_locked(fmt::format("inbound: from {} [{}] <{}> to {} recipient(s){}", helo, client_ip,
                           mail_from, rcpts.size(), tls ? " over TLS" : ""));
  }

  SutContext ctx_;
  std::chrono::milliseconds timeout_{5000};
  bool started_ = false;
  mutable std::mutex mutex_;
  std::map<std::string, auth::DkimKey> keys_;
  std::map<std::string, std::vector<StoredMessage>> mailboxes_;
  std::vector<Job> jobs_;  // std::deque semantics not needed: run_queue holds no pointer
                           // across a push (submit and run_queue are not concurrent).
  std::uint32_t submissions_ = 0;
  std::vector<std::string> logs_;
  std::unique_ptr<smtp::ServerThread> inbound_;
};

}  // namespace

std::unique_ptr<Sut> make_builtin_sut() { return std::make_unique<BuiltinSut>(); }

std::string builtin_selector(std::string_view domain, std::uint64_t seed, std::int64_t now) {
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("s{:04}{:02}{:02}{:03}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     fnv1a(domain, seed) % 1000);
}

std::string rfc5322_date(std::int64_t epoch_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const std::vector<std::int64_t>& builtin_retry_delays() {
  // 5 tries: now, +5 min, +15 min, +30 min, +1 h (short version of Haraka's
  // temp_fail_intervals; RFC 5321 §4.5.4.1 asks for at least 30 min in real life).
  static const std::vector<std::int64_t> delays = {300, 900, 1800, 3600};
  return delays;
}

}  // namespace mailsim::sut
