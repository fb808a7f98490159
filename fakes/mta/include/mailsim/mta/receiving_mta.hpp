// ReceivingMta: an SMTP server (fakes/smtp) that runs the auth checks at the stage a real
// provider does and lets a persona (fakes/personas) decide, recording a Delivery for every
// attempt — accepted, rejected, deferred, or dropped by the client.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/mta/delivery.hpp"
#include "mailsim/personas/persona.hpp"

namespace mailsim::mta {

struct MtaConfig {
  std::string persona = "gmail";  // personas::persona(name)
  std::string host;               // greeting host and authserv-id; "" = persona's default
  std::string listen_address = "127.0.0.1";  // loopback only (checked: std::invalid_argument)
  std::uint16_t port = 0;                    // 0 = ephemeral, see ReceivingMta::port()
  // STARTTLS is offered when set (e.g. smtp::TestCa::server_context(host)).
  std::shared_ptr<boost::asio::ssl::context> tls;
  // DNSBL zones queried at connect (RFC 5782); empty = no block-list check.
  std::vector<std::string> dnsbl_zones = {"zen.spamhaus.org"};
  // Fixed clock (seconds since the epoch) for DKIM t=/x= checks; nullopt = real time.
  std::optional<std::int64_t> now;
  // A moving simulated clock, read at each end of DATA; wins over `now` when set. The
  // sender's queue advances the run's clock on retries, so a receiver with a frozen clock
  // would see later signatures as "in the future" (RFC 6376 §3.5 t=).
  std::function<std::int64_t()> clock;
  // Bulk detection: every message is bulk when `bulk`; otherwise a message is bulk when it
  // carries "Precedence: bulk" / "Precedence: list" (RFC 2076 §3.9) or "X-Mailsim-Bulk: yes".
  bool bulk = false;
  bool detect_bulk_headers = true;
  // Maps the real peer to the virtual client address (loopback fabric); default: peer address.
  std::function<std::string(const boost::asio::ip::tcp::endpoint&)> client_address;
  std::chrono::milliseconds command_timeout = std::chrono::minutes(5);  // RFC 5321 §4.5.3.2.7
  std::size_t max_message_size = 10 * 1024 * 1024;                      // RFC 1870 SIZE
  int threads = 1;  // Asio threads; checks run on them (see docs/personas.md "Threads")
  // Every Delivery is kept for deliveries(), wait_for() and mailbox() (the runner's report
  // reads them). A long-running receiver that only streams them to on_delivery
  // (`mailsim receive`) sets false: its memory then stays flat however much mail it takes.
  bool keep_deliveries = true;
  // netns fabric only: the caller runs on a thread inside one of the fabric's network
  // namespaces, which have no route out of the world, so a world address (12.34.56.78) is as
  // sealed as loopback there (harness/net/netns_fabric.hpp).
  bool in_sealed_namespace = false;
};

using DeliveryCallback = std::function<void(const Delivery&)>;

class ReceivingMta {
 public:
  // `resolver` must outlive the MTA; it is used from the server threads (Resolver is
  // thread-safe by contract). Throws std::invalid_argument for an unknown persona or a
  // non-loopback listen address.
  ReceivingMta(MtaConfig config, dns::Resolver& resolver);
  ~ReceivingMta();
  ReceivingMta(const ReceivingMta&) = delete;
  ReceivingMta& operator=(const ReceivingMta&) = delete;

  void start();  // binds and serves in background threads
  void stop();   // idempotent; flushes attempts whose session never reported its end
  std::uint16_t port() const;
  const MtaConfig& config() const { return config_; }
  const personas::Persona& persona() const { return persona_; }
  std::string host() const;

  // Called (from a server thread) for each Delivery once its session has ended.
  void on_delivery(DeliveryCallback callback);
  std::vector<Delivery> deliveries() const;
  // How many Deliveries there have been (kept or not).
  std::size_t delivery_count() const;
  // Blocks until at least `count` Deliveries have been made or `timeout` passes; returns the
  // kept ones (none when MtaConfig::keep_deliveries is false).
  std::vector<Delivery> wait_for(std::size_t count, std::chrono::milliseconds timeout) const;
  // The stored messages (accepted deliveries), Authentication-Results first.
  std::vector<std::string> mailbox() const;

  struct Shared;  // state shared with sessions

 private:
  MtaConfig config_;
  const personas::Persona& persona_;
  std::shared_ptr<Shared> shared_;
  struct Server;
  std::unique_ptr<Server> server_;
};

// True for 127.0.0.0/8 and ::1 (the NETWORK RULE: mailsim listens and dials only there).
bool is_loopback_address(const std::string& address);

// One line per Delivery for logs and `mailsim receive`:
// "#1 gmail 12.34.56.78 <a@nodeseek.com> → rejected at rcpt: 550 5.7.25 … [gmail.ptr]".
std::string delivery_line(const Delivery& delivery);

}  // namespace mailsim::mta
