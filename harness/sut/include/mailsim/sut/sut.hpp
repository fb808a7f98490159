// The setup under test (SUT): the one interface every mail setup mailsim can test
// implements — the embedded `builtin` MTA now; Postfix, Haraka and the real poste.io
// container later (DESIGN.md "Setup under test", ../shared/reference/posteio.md).
//
// The runner drives a SUT through a fixed life cycle:
//   start(context) → provision(domain…) → [runner publishes the DKIM records] →
//   submit(message)… → run_queue() → attempts()/mailbox() → logs() → stop()
// A SUT never reaches the network on its own: it dials and listens only through the
// context's fabric hooks, and it resolves only through the context's resolver (or, for a
// real program, the fake DNS address), so the world stays sealed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/auth/facts.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/smtp/reply.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::sut {

// ---------------------------------------------------------------------------------------
// Simulated clock: retries and DKIM t= run on it, so a deferral costs no real time and two
// runs with the same seed print the same report (DESIGN.md "Deterministic").
class SimClock {
 public:
  // 2026-01-01T00:00:00Z: a fixed, plausible "now" for every run.
  static constexpr std::int64_t kEpoch = 1767225600;
  explicit SimClock(std::int64_t start = kEpoch) : now_(start) {}
  std::int64_t now() const { return now_.load(); }
  void advance(std::int64_t seconds) { now_ += seconds; }
  void set(std::int64_t seconds) { now_ = seconds; }

 private:
  std::atomic<std::int64_t> now_;
};

// RFC 5322 §3.3 date-time in UTC for a simulated time ("Thu, 01 Jan 2026 00:00:00 +0000").
std::string rfc5322_date(std::int64_t epoch_seconds);

// ---------------------------------------------------------------------------------------
// Fabric hooks. The runner adapts the loopback (or netns/docker) fabric to these, so a SUT
// does not depend on how the world is realized.

// Where a TCP connection from a world host to a virtual address really goes.
struct Route {
  bool ok = false;
  // Why not, in the words a real client would log: "connection timed out" for blocked
  // egress (a VPS provider dropping port 25, guide §1), "connection refused" for a closed
  // port, "no route to host" for an address outside the world.
  std::string error;
  std::string wire_address;   // connect here ("127.3.0.7")
  std::uint16_t wire_port = 0;
  std::string local_address;  // bind the client socket here so the peer sees our virtual IP
};
// dial(from_host, virtual_address, port)
using DialFn = std::function<Route(std::string_view, std::string_view, std::uint16_t)>;

// Where a world host listens for one of its ports: (host, port) → wire endpoint.
struct Endpoint {
  std::string address;
  std::uint16_t port = 0;
};
using ListenFn = std::function<Endpoint(std::string_view, std::uint16_t)>;
// The virtual address behind a wire address a peer connected from ("127.3.0.9" →
// "209.85.220.41"), so the SUT logs and checks what a real server would see.
using VirtualFn = std::function<std::string(std::string_view)>;

// TLS material of a run (the per-run test CA of fakes/smtp). Empty = no TLS available.
struct TlsMaterial {
  std::string ca_cert_pem;      // trust anchor for the receivers' certificates
  std::string server_cert_pem;  // the SUT's own certificate for its inbound STARTTLS
  std::string server_key_pem;
  bool empty() const { return ca_cert_pem.empty() && server_cert_pem.empty(); }
};

struct SutContext {
  const world::World* world = nullptr;  // the realized world (read only)
  dns::Resolver* resolver = nullptr;    // resolves through the fake DNS; thread-safe
  Endpoint dns_server;                  // the fake DNS on the wire, for real programs
  std::string host_name;                // the SUT's host, e.g. "mx.nodeseek.com" (HELO)
  DialFn dial;
  ListenFn listen;
  VirtualFn virtual_for;                // empty = peers are logged with their wire address
  TlsMaterial tls;
  // Outbound STARTTLS when the receiver offers it (RFC 3207). False models a setup with
  // TLS switched off (a regression seen in poste.io 2.4.7, posteio.md).
  bool starttls = true;
  SimClock* clock = nullptr;
  std::uint64_t seed = 1;               // keys and ids derive from it
  // Real-time bound of one SMTP read or connect (explicit timeouts on every read).
  std::uint32_t io_timeout_ms = 5000;
  // netns fabric (harness/net/netns_fabric.hpp): the network namespace of the SUT's host
  // ("mailsim-7-h1"), where real MTAs (postfix, haraka) are started with `ip netns exec`
  // and their resolv.conf names only the fake DNS. "" on the loopback fabric.
  std::string netns;
};

// ---------------------------------------------------------------------------------------
// Provisioning (guide §5–§6: domain, mailboxes, then the DKIM key the server generates).

struct DomainSpec {
  std::string domain;                  // "nodeseek.com"
  std::vector<std::string> mailboxes;  // full addresses: "postmaster@nodeseek.com"
  std::string dkim_selector;           // "" = the SUT chooses (poste.io: "s2026…")
  int dkim_bits = 2048;
};

// A DKIM key the SUT wants published: `<selector>._domainkey.<domain> TXT "<txt>"`.
struct DkimPublication {
  std::string domain;
  std::string selector;
  std::string record_name;  // "s20260101123._domainkey.nodeseek.com"
  std::string txt;          // "v=DKIM1; k=rsa; p=MIIB…" (one string; the panel splits it)
  std::string algorithm;    // "rsa-sha256"
  int bits = 0;
};

struct ProvisionResult {
  std::vector<DkimPublication> dkim;
};

// ---------------------------------------------------------------------------------------
// Outbound: submissions, the queue, and what the SUT saw of each delivery attempt.

struct Submission {
  auth::Envelope envelope;  // MAIL FROM / RCPT TO
  std::string data;         // the RFC 5322 message (CRLF or LF; normalized to CRLF)
};

// One command/reply pair of a client dialogue, for the transcript in reports.
struct Exchange {
  std::string command;  // "EHLO mx.nodeseek.com", "STARTTLS", "<connect>", "DATA", "."
  smtp::Reply reply;
  bool operator==(const Exchange&) const = default;
};

// What one delivery attempt came to, from the sending side.
enum class AttemptOutcome {
  delivered,    // 2xx after end of DATA
  deferred,     // 4xx (or a connection/timeout problem): the queue retries
  bounced,      // 5xx: permanent, a bounce goes to the sender
  unreachable,  // no usable MX/A, or every address failed to connect on the last try
};
std::string_view to_string(AttemptOutcome outcome);

struct DeliveryAttempt {
  std::string submission_id;
  std::string recipient_domain;
  std::vector<std::string> recipients;
  int try_number = 1;         // 1-based
  std::int64_t at = 0;        // simulated time of the attempt
  std::string mx_host;        // the exchange tried ("gmail-smtp-in.l.google.com"), "" if none
  std::string address;        // its virtual address, "" if none resolved
  std::uint16_t port = 25;
  bool connected = false;
  std::string connect_error;  // "connection timed out" …
  bool tls = false;           // STARTTLS completed (RFC 3207)
  std::vector<Exchange> transcript;
  smtp::Reply final_reply;    // the reply that decided the attempt (code 0 if none)
  AttemptOutcome outcome = AttemptOutcome::deferred;
  std::string detail;         // one sentence for the report: why this outcome
};

// Where a submission stands after the queue ran.
enum class SubmissionState { queued, delivered, deferred, bounced, failed };
std::string_view to_string(SubmissionState state);

struct SubmissionStatus {
  std::string id;
  SubmissionState state = SubmissionState::queued;
  std::vector<DeliveryAttempt> attempts;  // in order
};

// Inbound: a message the SUT's MX accepted into a mailbox.
struct StoredMessage {
  std::string mailbox;       // "postmaster@nodeseek.com"
  std::string client_ip;     // virtual address of the sending host
  std::string helo;
  bool tls = false;
  auth::Envelope envelope;
  std::string data;          // as received (with the SUT's Received: prepended)
  std::int64_t at = 0;       // simulated time
};

// Thrown for a SUT that cannot start, an unknown domain, a mailbox outside the SUT's
// domains, … The message says which and why.
class SutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Sut {
 public:
  virtual ~Sut() = default;
  virtual std::string kind() const = 0;  // "builtin"

  // Starts listening (inbound MX) and prepares the queue. The context outlives the SUT's
  // started state (until stop()).
  virtual void start(const SutContext& context) = 0;
  virtual ProvisionResult provision(const DomainSpec& domain) = 0;
  // Accepts a message for delivery (authenticated submission). Returns its id.
  virtual std::string submit(const Submission& submission) = 0;
  // Runs the queue until every submission is final (delivered, bounced, or out of retries),
  // advancing the simulated clock between retries. Returns early when `cancel` is set.
  virtual void run_queue(const std::atomic<bool>* cancel = nullptr) = 0;
  virtual SubmissionStatus status(std::string_view submission_id) const = 0;
  // Messages delivered into a mailbox by the inbound MX, in arrival order.
  virtual std::vector<StoredMessage> mailbox(std::string_view address) const = 0;
  // The SUT's log, oldest first, for the report ("dkim: signed with s2026…").
  virtual std::vector<std::string> logs() const = 0;
  // Closes listeners and connections. Idempotent; the destructor calls it too.
  virtual void stop() = 0;
};

// Setups mailsim knows, sorted ("builtin", …).
const std::vector<std::string>& sut_kinds();
// Settings for one kind of SUT given on the command line ("pull" → "1", "tag" → "2.5.5"):
// each kind documents the keys it reads and refuses the others.
using SutOptions = std::map<std::string, std::string>;

// Makes a SUT by kind; throws SutError naming the valid kinds, or an option the kind does
// not take.
std::unique_ptr<Sut> make_sut(std::string_view kind, const SutOptions& options = {});

}  // namespace mailsim::sut
