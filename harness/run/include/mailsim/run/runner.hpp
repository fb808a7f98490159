// The Runner: DESIGN.md "The flow of one run", steps 1–6, for one scenario or many in
// parallel. It realizes the world on the loopback fabric, serves its zones from the fake
// DNS, starts one ReceivingMta per persona host, starts and provisions the setup under
// test, publishes its DKIM key (publish-stage breakages applied), runs the probes and
// collects what both ends saw. Scoring and reports (steps 7–8) read the RunResult.
//
// Everything a run starts is torn down when the run ends — normally, on an exception, or
// on cancellation (request_stop(), which the CLI's SIGINT handler calls).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/mta/delivery.hpp"
#include "mailsim/sut/sut.hpp"

namespace mailsim::run {

struct Scenario;  // mailsim/run/scenario.hpp

// `--shard K/N`: this process runs the scenarios whose index in name-sorted order is
// congruent to K modulo N. K is 0-based, 0 ≤ K < N.
struct Shard {
  unsigned index = 0;
  unsigned count = 1;
};
// Parses "K/N" ("1/4"); throws std::invalid_argument saying what is wrong.
Shard parse_shard(std::string_view text);
// The names this shard runs, in sorted order (deterministic for a given list of names).
std::vector<std::string> shard_names(std::vector<std::string> names, const Shard& shard);

struct RunOptions {
  // DKIM keys, selectors, ids derive from it. A scenario's own `seed:` takes precedence.
  std::uint64_t seed = 1;
  std::vector<std::string> personas;    // only these personas ("gmail", …); empty = all
  unsigned jobs = 0;                    // scenarios in parallel; 0 = hardware concurrency
  // 127.N block: scenario i of a run uses N = 1 + (run_index + i) % 250.
  unsigned run_index = 0;
  Shard shard;                          // which scenarios of a run_all this process runs
  std::string sut = "builtin";          // which setup under test (sut::sut_kinds())
  sut::SutOptions sut_options;          // settings for that kind (posteio: pull, keep, tag)
  // How the world is realized (DESIGN.md "three fabrics"): "loopback" (127.N aliases, no
  // root) or "netns" (a network namespace per host with the real virtual addresses; root;
  // needed by the real MTAs "postfix" and "haraka", docs/netns.md).
  std::string fabric = "loopback";
  std::uint32_t io_timeout_ms = 5000;   // real-time bound for each SMTP/DNS read
  // Optional external cancellation flag, checked between probes; request_stop() also
  // interrupts the SUT's queue.
  const std::atomic<bool>* cancel = nullptr;
};

// Fabrics the runner knows: "loopback", "netns".
const std::vector<std::string>& fabric_kinds();
// Why `sut` cannot run on `fabric`, or "": unknown fabric, a real MTA (postfix, haraka) off
// the netns fabric, an in-process or container SUT on it, or netns unavailable here (not
// root, no ip/nft — net::netns_unavailable_reason()). The CLI calls it to fail fast.
std::string fabric_problem(std::string_view fabric, std::string_view sut);

enum class Direction { outbound, inbound };
std::string_view to_string(Direction direction);

// One probe: a message between the SUT and one persona, and what both ends saw.
struct ProbeResult {
  std::string name;       // "outbound/gmail"
  Direction direction = Direction::outbound;
  std::string persona;    // "gmail"
  std::string from;       // envelope sender
  std::string to;         // envelope recipient
  // Receiver side: every Delivery the persona's ReceivingMta recorded for this probe
  // (outbound; one per attempt, retries included), in order.
  std::vector<mta::Delivery> deliveries;
  // Sender side. Outbound: the SUT's attempts and final state. Inbound: the remote
  // sender's single attempt (its connect error, replies, outcome).
  std::vector<sut::DeliveryAttempt> attempts;
  sut::SubmissionState state = sut::SubmissionState::queued;
  // Inbound only: the message as it arrived in the SUT's mailbox (empty when not stored).
  std::vector<sut::StoredMessage> stored;
  double elapsed_ms = 0;  // real time the probe took
  std::string error;      // set when the probe could not be run at all
};

struct RunResult {
  std::string scenario;              // Scenario name
  std::uint64_t seed = 1;
  unsigned block = 0;                // the 127.N block the run used
  std::vector<ProbeResult> probes;   // outbound first, then inbound; personas in report order
  std::vector<sut::DkimPublication> dkim;  // what the SUT asked to publish
  std::string zone_text;             // the zones as served (after publish-stage breakages)
  std::vector<std::string> sut_logs;
  std::vector<std::string> runner_logs;  // what the runner did, for --verbose reports
  double elapsed_ms = 0;
  bool cancelled = false;
  std::string error;                 // a run that could not complete says why here
  bool ok() const { return error.empty() && !cancelled; }
};

class Runner {
 public:
  explicit Runner(RunOptions options = {});
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs one scenario in block options.run_index. Never throws for a failing world: the
  // problem is in RunResult::error. Throws std::invalid_argument for bad options.
  RunResult run(const Scenario& scenario);
  // Runs the shard's share of `scenarios`, `jobs` at a time, each in its own 127.N block.
  // Results come back sorted by scenario name (stable report order).
  std::vector<RunResult> run_all(const std::vector<Scenario>& scenarios);

  // Asks every run in flight to stop soon; async-signal-safe (sets an atomic flag).
  void request_stop() noexcept { stop_.store(true); }
  bool stop_requested() const noexcept;

  const RunOptions& options() const { return options_; }

 private:
  RunResult run_in_block(const Scenario& scenario, unsigned block);

  RunOptions options_;
  std::atomic<bool> stop_{false};
};

}  // namespace mailsim::run
