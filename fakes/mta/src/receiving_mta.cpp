// ReceivingMta: checks at the stage a real provider runs them, persona decides, every attempt
// becomes a Delivery.
//
// Threads: checks run on the Asio thread of the session that asked. They block on DNS, which
// is acceptable here because the only resolver any actor can reach is the sealed world's (in
// process, or the FakeDnsServer on loopback, answering in microseconds); a slow or faulty
// name (dns.fault timeout) blocks only that session's thread for the resolver's deadline.
// Use MtaConfig::threads > 1 to keep other sessions moving meanwhile.
#include "mailsim/mta/receiving_mta.hpp"
#include "mailsim/world/text.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

#include "mailsim/smtp/server.hpp"
#include "mailsim/world/record.hpp"

namespace mailsim::mta {

using personas::Disposition;
using personas::Stage;

bool is_loopback_address(const std::string& address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

namespace {

using world::lower;

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string{s};
}

// A check that throws is a temporary error of that check, never a crashed session.
template <class R, class F>
R guarded(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    R r;
    r.result = auth::Result::temperror;
    r.cause = std::string("check failed: ") + e.what();
    return r;
  }
}

auth::TlsFacts to_facts(const smtp::TlsInfo& info) {
  return {info.used, info.protocol, info.cipher, info.peer_cert_name};
}

}  // namespace

// --- shared state --------------------------------------------------------------------------

struct ReceivingMta::Shared {
  MtaConfig config;
  const personas::Persona& persona;
  dns::Resolver& resolver;
  std::string host;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<Delivery> deliveries;  // kept ones (MtaConfig::keep_deliveries)
  std::size_t published = 0;         // all of them
  DeliveryCallback callback;
  std::uint64_t connections = 0;
  // A session's Deliveries wait here from its handler's on_close until the server reports
  // the session with its transcript (always after on_close: the observer runs once the
  // dialogue has closed). Keyed by the SessionContext's address, which the dialogue hands to
  // both the handler and the observer.
  struct Pending {
    std::optional<std::vector<Delivery>> deliveries;
  };
  std::map<const void*, Pending> pending;

  Shared(MtaConfig c, const personas::Persona& p, dns::Resolver& r)
      : config(std::move(c)), persona(p), resolver(r) {
    host = config.host.empty() ? persona.default_host : config.host;
  }

  std::uint64_t next_connection() {
    std::lock_guard lock(mutex);
    return ++connections;
  }

  // Each Delivery of the session gets the session's transcript (the last one takes it).
  void publish(std::vector<Delivery> ds, std::vector<smtp::TranscriptLine>* transcript) {
    DeliveryCallback cb;
    {
      std::lock_guard lock(mutex);
      cb = callback;
      for (auto& d : ds) {
        if (transcript)
          d.transcript = &d == &ds.back() ? std::move(*transcript) : *transcript;
        d.sequence = ++published;
        if (!config.keep_deliveries) continue;
        // The callback runs outside the lock on its own copy; without one, nothing is copied.
        if (cb)
          deliveries.push_back(d);
        else
          deliveries.push_back(std::move(d));
      }
    }
    changed.notify_all();
    if (cb)
      for (const auto& d : ds) cb(d);
  }

  void session_closed(const void* key, std::vector<Delivery> ds) {
    std::vector<Delivery> stale;
    {
      std::lock_guard lock(mutex);
      auto& p = pending[key];
      // A previous session at the same address that was never reported: publish it as is.
      if (p.deliveries) stale = std::move(*p.deliveries);
      p.deliveries = std::move(ds);
    }
    if (!stale.empty()) publish(std::move(stale), nullptr);
  }

  void session_reported(const void* key, std::vector<smtp::TranscriptLine> transcript) {
    std::vector<Delivery> ds;
    {
      std::lock_guard lock(mutex);
      auto it = pending.find(key);
      // The server reports a session after its dialogue has closed (and so after the
      // handler's on_close). No entry means the handler never closed: keep nothing, so a
      // later session reusing this address cannot pick up a stale transcript.
      if (it == pending.end() || !it->second.deliveries) return;
      ds = std::move(*it->second.deliveries);
      pending.erase(it);
    }
    publish(std::move(ds), &transcript);
  }

  // At stop: sessions that closed but never reported (or the other way round).
  void flush() {
    std::vector<Delivery> ds;
    {
      std::lock_guard lock(mutex);
      for (auto& [key, p] : pending)
        if (p.deliveries)
          for (auto& d : *p.deliveries) ds.push_back(std::move(d));
      pending.clear();
    }
    if (!ds.empty()) publish(std::move(ds), nullptr);
  }
};

// --- one session ---------------------------------------------------------------------------

namespace {

class MtaSession : public smtp::SessionHandler {
 public:
  explicit MtaSession(std::shared_ptr<ReceivingMta::Shared> shared) : shared_(std::move(shared)) {}

  smtp::Reply on_connect(const smtp::SessionContext& ctx) override {
    key_ = &ctx;
    id_ = fmt::format("mailsim{:06}", shared_->next_connection());
    facts_.client_ip = ctx.client_ip;
    facts_.ipv6 = world::is_ipv6(ctx.client_ip);
    facts_.message_id = id_;
    auto& r = shared_->resolver;
    checks_.iprev =
        guarded<auth::IprevResult>([&] { return auth::check_iprev(ctx.client_ip, r); });
    if (!shared_->config.dnsbl_zones.empty())
      checks_.dnsbl = guarded<auth::DnsblResult>(
          [&] { return auth::check_dnsbl(ctx.client_ip, shared_->config.dnsbl_zones, r); });
    pending_ = true;
    stage_ = Stage::connect;
    smtp::Reply reply;
    if (auto v = ask(Stage::connect, conn_hits_); v.reply) {
      reply = *v.reply;
      return finish_now(Stage::connect, reply, v.disposition);
    }
    // The dialogue puts the host name first (RFC 5321 §4.3.1); we give the rest.
    reply = smtp::make_reply(
        220, "", personas::expand(shared_->persona.greeting_suffix, facts_, checks_));
    smtp::Reply as_sent = reply;
    as_sent.lines[0] = shared_->persona.greeting(shared_->host, id_);
    replies_.push_back(as_sent);
    return reply;
  }

  smtp::Reply on_helo(const smtp::SessionContext& ctx, std::string_view name, bool) override {
    facts_.helo = std::string{name};
    auto& r = shared_->resolver;
    checks_.helo =
        guarded<auth::HeloResult>([&] { return auth::check_helo(facts_.helo, ctx.client_ip, r); });
    checks_.spf_helo = guarded<auth::SpfResult>(
        [&] { return auth::check_spf_helo(ctx.client_ip, facts_.helo, r); });
    pending_ = true;
    stage_ = Stage::helo;
    // A new EHLO resets the transaction (RFC 5321 §4.1.4); HELO-stage hits are per session.
    std::erase_if(conn_hits_, [](const personas::RuleHit& h) { return h.stage == Stage::helo; });
    if (auto v = ask(Stage::helo, conn_hits_); v.reply)
      return finish_now(Stage::helo, *v.reply, v.disposition);
    // The dialogue prefixes the host and lists the extensions (RFC 5321 §4.1.1.1).
    return record(smtp::make_reply(250, "", "at your service, [" + ctx.client_ip + "]"));
  }

  smtp::Reply on_mail(const smtp::SessionContext& ctx, std::string_view from,
                      const smtp::EsmtpParams& params) override {
    if (pending_ && stage_ >= Stage::mail)
      finish(stage_, last_reply_, "client started a new transaction");
    clear_transaction();
    txn_first_reply_ = replies_.size();
    txn_.envelope.mail_from = std::string{from};
    txn_.envelope.smtputf8 = params.count("SMTPUTF8") > 0;
    facts_.mail_from = txn_.envelope.mail_from;
    facts_.tls = ctx.tls.used;
    tls_ = to_facts(ctx.tls);
    auto& r = shared_->resolver;
    checks_.spf = guarded<auth::SpfResult>(
        [&] { return auth::check_spf_mailfrom(ctx.client_ip, facts_.helo, facts_.mail_from, r); });
    pending_ = true;
    stage_ = Stage::mail;
    if (auto v = ask(Stage::mail, txn_.hits); v.reply)
      return finish_now(Stage::mail, *v.reply, v.disposition);
    return record(smtp::make_reply(250, "2.1.0", "OK"));
  }

  smtp::Reply on_rcpt(const smtp::SessionContext&, std::string_view to,
                      const smtp::EsmtpParams&) override {
    txn_.envelope.rcpt_to.emplace_back(to);
    stage_ = Stage::rcpt;
    // The persona's RCPT rules are per transaction: recorded once, answered for every RCPT.
    std::vector<personas::RuleHit> before = hits();
    personas::Verdict v = shared_->persona.evaluate(Stage::rcpt, checks_, facts_, before);
    if (!txn_.rcpt_evaluated) {
      txn_.hits.insert(txn_.hits.end(), v.fired.begin(), v.fired.end());
      txn_.rcpt_evaluated = true;
    }
    if (v.reply) {
      txn_.rcpt_refused = true;
      txn_.disposition = v.disposition;
      return record(*v.reply);
    }
    return record(smtp::make_reply(250, "2.1.5", "OK"));
  }

  smtp::Reply on_data(const smtp::SessionContext&) override {
    stage_ = Stage::data;
    return record(smtp::make_reply(354, "", "Go ahead"));
  }

  smtp::Reply on_data_end(const smtp::SessionContext& ctx, std::string_view text) override {
    stage_ = Stage::data;
    tls_ = to_facts(ctx.tls);
    facts_.tls = ctx.tls.used;
    txn_.envelope.rcpt_to = ctx.rcpt_to;  // the accepted ones are the envelope now
    auth::Message message = auth::Message::parse(text);
    facts_.from_domain = message.from_domain();
    txn_.bulk = shared_->config.bulk || (shared_->config.detect_bulk_headers && is_bulk(message));
    facts_.bulk = txn_.bulk;
    auto& r = shared_->resolver;
    auth::DkimVerifyOptions dkim_options;
    dkim_options.now =
        shared_->config.clock ? std::optional(shared_->config.clock()) : shared_->config.now;
    checks_.dkim =
        guarded<auth::DkimResult>([&] { return auth::verify_dkim(message, r, dkim_options); });
    static const auth::SpfResult kNoSpf;
    const auth::SpfResult& spf = checks_.spf ? *checks_.spf : kNoSpf;
    checks_.dmarc = guarded<auth::DmarcResult>(
        [&] { return auth::check_dmarc(message, spf, *checks_.dkim, r); });
    checks_.content =
        guarded<auth::ContentResult>([&] { return auth::check_content(message); });
    checks_.tls = guarded<auth::CheckResult>([&] { return auth::check_tls(tls_); });
    // Can the author's domain receive replies (RFC 5321 §5.1)? mail-tester's "we did not
    // find a mail server" (docs/personas.md); only the From domain, once it is known.
    if (!facts_.from_domain.empty())
      checks_.mx =
          guarded<auth::MxResult>([&] { return auth::check_mx(facts_.from_domain, r); });

    personas::Verdict v = ask(Stage::data, txn_.hits);
    if (v.reply) return finish_now(Stage::data, *v.reply, v.disposition);

    auth::Connection connection{facts_.client_ip, facts_.helo, tls_};
    std::string ar =
        auth::authentication_results(shared_->host, checks_, connection, txn_.envelope);
    std::string stored;
    stored.reserve(ar.size() + 2 + message.raw.size());
    stored.append(ar).append("\r\n").append(message.raw);
    const auto& p = shared_->persona;
    smtp::Reply reply =
        smtp::make_reply(250, p.accept_enhanced, personas::expand(p.accept_text, facts_, checks_),
                         fmt::format("accepted: {}", personas::to_string(v.disposition)));
    record(reply);
    Delivery d = take_delivery(Stage::accepted, reply, v.disposition);
    d.authentication_results = std::move(ar);
    d.message = std::move(stored);
    done_.push_back(std::move(d));
    end_transaction(Stage::accepted);
    return reply;
  }

  // The SMTP layer refused the message at end of data (552 past MtaConfig::max_message_size,
  // RFC 1870 §6.3): the attempt ends rejected with that reply, not as a dangling 354.
  void on_data_refused(const smtp::SessionContext& ctx, const smtp::Reply& reply) override {
    stage_ = Stage::data;
    txn_.envelope.rcpt_to = ctx.rcpt_to;
    finish_now(Stage::data, reply, Disposition::rejected);
    done_.back().note = "refused by the SMTP layer: " + reply.summary();
  }

  void on_tls(const smtp::SessionContext& ctx) override {
    tls_ = to_facts(ctx.tls);
    facts_.tls = ctx.tls.used;
  }

  void on_close(const smtp::SessionContext& ctx, std::string_view reason) override {
    if (!key_) key_ = &ctx;
    if (pending_) finish(stage_, last_reply_, std::string{reason});
    shared_->session_closed(key_, std::move(done_));
    done_.clear();
  }

 private:
  struct Txn {
    auth::Envelope envelope;
    std::vector<personas::RuleHit> hits;
    bool rcpt_evaluated = false;
    bool rcpt_refused = false;
    bool bulk = false;
    Disposition disposition = Disposition::rejected;
  };

  static bool is_bulk(const auth::Message& m) {
    for (const auto* h : m.find_all("Precedence")) {
      auto v = lower(trim(h->value));
      if (v == "bulk" || v == "list") return true;
    }
    const auto* x = m.find("X-Mailsim-Bulk");
    return x && lower(trim(x->value)) == "yes";
  }

  // A transaction's checks end with it (RFC 5321 §4.1.4: MAIL starts a new one, RSET and a
  // new EHLO clear it); the connection's (iprev, dnsbl, helo, spf_helo) stay in checks_.
  void clear_transaction() {
    txn_ = {};
    checks_.spf.reset();
    checks_.dkim.reset();
    checks_.dmarc.reset();
    checks_.content.reset();
    checks_.tls.reset();
    checks_.mx.reset();
  }

  std::vector<personas::RuleHit> hits() const {
    std::vector<personas::RuleHit> all = conn_hits_;
    all.insert(all.end(), txn_.hits.begin(), txn_.hits.end());
    return all;
  }

  // Asks the persona and keeps the rules that fired (connection-level or transaction-level).
  personas::Verdict ask(Stage stage, std::vector<personas::RuleHit>& into) {
    personas::Verdict v = shared_->persona.evaluate(stage, checks_, facts_, hits());
    into.insert(into.end(), v.fired.begin(), v.fired.end());
    return v;
  }

  smtp::Reply record(const smtp::Reply& reply) {
    replies_.push_back(reply);
    last_reply_ = reply;
    return reply;
  }

  // The persona answered with a refusal: the attempt ends here.
  smtp::Reply finish_now(Stage stage, const smtp::Reply& reply, Disposition disposition) {
    record(reply);
    Delivery d = take_delivery(stage, reply, disposition);
    done_.push_back(std::move(d));
    end_transaction(stage);
    return reply;
  }

  // The session ended (or moved on) without a verdict at end of DATA.
  void finish(Stage stage, const smtp::Reply& last, const std::string& note) {
    Disposition disposition = txn_.rcpt_refused  ? txn_.disposition
                              : last.permanent() ? Disposition::rejected
                                                 : Disposition::deferred;
    Delivery d = take_delivery(stage, last, disposition);
    d.note = note;
    done_.push_back(std::move(d));
    end_transaction(stage);
  }

  // A transaction's replies belong to its own Delivery: later attempts in the same session
  // (smtp-source -d, a relay's connection reuse) keep the session's replies (greeting, EHLO)
  // but not every earlier transaction's, so recording stays linear in the messages sent.
  void end_transaction(Stage stage) {
    pending_ = false;
    clear_transaction();
    if (stage >= Stage::mail && txn_first_reply_ <= replies_.size())
      replies_.resize(txn_first_reply_);
  }

  // The Delivery of the transaction that is ending (every caller ends it right after): the
  // transaction's own results, envelope and rule hits move into it; the connection's
  // (iprev, dnsbl, helo, spf_helo, session replies) are copied, they stay for the next one.
  Delivery take_delivery(Stage stage, const smtp::Reply& final_reply, Disposition disposition) {
    Delivery d;
    d.persona = shared_->persona.name;
    d.receiver_host = shared_->host;
    d.client_ip = facts_.client_ip;
    d.helo = facts_.helo;
    d.envelope = std::move(txn_.envelope);
    d.tls = tls_;
    d.bulk = txn_.bulk;
    d.ended_at = stage;
    d.final_reply = final_reply;
    d.replies = replies_;
    d.checks.iprev = checks_.iprev;
    d.checks.dnsbl = checks_.dnsbl;
    d.checks.helo = checks_.helo;
    d.checks.spf_helo = checks_.spf_helo;
    d.checks.spf = std::move(checks_.spf);
    d.checks.tls = std::move(checks_.tls);
    d.checks.dkim = std::move(checks_.dkim);
    d.checks.dmarc = std::move(checks_.dmarc);
    d.checks.content = std::move(checks_.content);
    d.checks.mx = std::move(checks_.mx);
    d.disposition = disposition;
    d.rules.reserve(conn_hits_.size() + txn_.hits.size());
    d.rules = conn_hits_;
    std::move(txn_.hits.begin(), txn_.hits.end(), std::back_inserter(d.rules));
    d.score = shared_->persona.score(d.rules);
    d.score_formula = shared_->persona.score_formula;
    return d;
  }

  std::shared_ptr<ReceivingMta::Shared> shared_;
  const void* key_ = nullptr;
  std::string id_;
  personas::Facts facts_;
  auth::TlsFacts tls_;
  auth::CheckSet checks_;  // the connection's and the current transaction's results
  std::vector<personas::RuleHit> conn_hits_;
  Txn txn_;
  std::vector<smtp::Reply> replies_;
  std::size_t txn_first_reply_ = 0;  // replies_ index of the current transaction's MAIL reply
  smtp::Reply last_reply_;
  Stage stage_ = Stage::connect;
  bool pending_ = false;
  std::vector<Delivery> done_;
};

}  // namespace

// --- ReceivingMta ----------------------------------------------------------------------------

struct ReceivingMta::Server {
  std::unique_ptr<smtp::ServerThread> thread;
};

ReceivingMta::ReceivingMta(MtaConfig config, dns::Resolver& resolver)
    : config_(std::move(config)), persona_(personas::persona(config_.persona)) {
  if (!is_loopback_address(config_.listen_address) && !config_.in_sealed_namespace)
    throw std::invalid_argument("listen address '" + config_.listen_address +
                                "' is not loopback (127.0.0.0/8 or ::1): mailsim only listens "
                                "inside the sealed world");
  shared_ = std::make_shared<Shared>(config_, persona_, resolver);
}

ReceivingMta::~ReceivingMta() { stop(); }

std::string ReceivingMta::host() const { return shared_->host; }

void ReceivingMta::start() {
  if (server_) return;
  smtp::ServerOptions options;
  options.address = config_.listen_address;
  options.in_sealed_namespace = config_.in_sealed_namespace;
  options.port = config_.port;
  options.tls = config_.tls;
  options.client_address = config_.client_address;
  options.command_timeout = config_.command_timeout;
  options.dialogue.hostname = shared_->host;
  options.dialogue.max_message_size = config_.max_message_size;
  auto shared = shared_;
  // Built aside and kept only once it listens: a bind that throws (port in use) must leave
  // the MTA stopped, not holding a Server without a thread for stop() to trip over.
  auto server = std::make_unique<Server>();
  server->thread = std::make_unique<smtp::ServerThread>(
      options,
      [shared](const smtp::ConnectionInfo&) -> std::unique_ptr<smtp::SessionHandler> {
        return std::make_unique<MtaSession>(shared);
      },
      std::max(1, config_.threads));
  server_ = std::move(server);
  server_->thread->server().set_observer(
      [shared](const smtp::SessionContext& ctx, smtp::Transcript& transcript,
               std::string_view) { shared->session_reported(&ctx, transcript.take_lines()); });
}

void ReceivingMta::stop() {
  if (!server_) return;
  server_->thread->stop();
  server_.reset();
  shared_->flush();
}

std::uint16_t ReceivingMta::port() const {
  if (!server_) throw std::logic_error("ReceivingMta::port() before start()");
  return server_->thread->port();
}

void ReceivingMta::on_delivery(DeliveryCallback callback) {
  std::lock_guard lock(shared_->mutex);
  shared_->callback = std::move(callback);
}

std::vector<Delivery> ReceivingMta::deliveries() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->deliveries;
}

std::vector<Delivery> ReceivingMta::wait_for(std::size_t count,
                                             std::chrono::milliseconds timeout) const {
  std::unique_lock lock(shared_->mutex);
  shared_->changed.wait_for(lock, timeout, [&] { return shared_->published >= count; });
  return shared_->deliveries;
}

std::size_t ReceivingMta::delivery_count() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->published;
}

std::vector<std::string> ReceivingMta::mailbox() const {
  std::lock_guard lock(shared_->mutex);
  std::vector<std::string> out;
  for (const auto& d : shared_->deliveries)
    if (d.accepted()) out.push_back(d.message);
  return out;
}

std::string delivery_line(const Delivery& d) {
  std::string rules;
  for (const auto& h : d.rules) {
    if (h.points == 0 && h.disposition == Disposition::inbox) continue;  // score-neutral notes
    rules += (rules.empty() ? "" : " ") + h.id;
  }
  std::string rcpts;
  for (const auto& r : d.envelope.rcpt_to) rcpts += (rcpts.empty() ? "" : ",") + r;
  return fmt::format("#{} {} {} <{}> -> <{}> {} at {}: {} score={:.3f}{}{}", d.sequence, d.persona,
                     d.client_ip, d.envelope.mail_from, rcpts, personas::to_string(d.disposition),
                     personas::to_string(d.ended_at), d.final_reply.summary(), d.score,
                     rules.empty() ? "" : " [" + rules + "]",
                     d.note.empty() ? "" : " (" + d.note + ")");
}

}  // namespace mailsim::mta
