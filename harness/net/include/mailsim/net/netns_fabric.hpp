// The netns fabric (DESIGN.md "Virtual addresses, three fabrics"; issue 8): realizes a
// World as Linux network namespaces so real programs (Postfix, Haraka) run inside it
// unchanged, speaking to the world's real virtual addresses (12.34.56.78, 104.21.48.10…).
//
//   mailsim-<N>-br        a bridge namespace holding bridge "br0" and one veth end per host
//   mailsim-<N>-h<i>      one namespace per World host i: `lo` + `eth0` (the veth's other
//                         end) carrying every virtual address of the host
//
// Sealing: the bridge namespace has no uplink, and no host namespace has a default route —
// only a /32 (/128) route per world address, so a connect() to anything outside the world
// fails at once with ENETUNREACH (no packet is ever sent). Nothing is configured in the
// initial namespace: no veth, no address, no route touches the machine's real interfaces.
// /etc/netns/<ns>/resolv.conf names only the fake DNS, so `ip netns exec` programs resolve
// through it and nothing else.
//
// Policy is enforced in the network, not faked in the SUT (issue 8):
//   blocked egress (port25.blocked) → an nftables output rule in that host's namespace
//     drops the SYNs, so a real client times out as it would behind a VPS provider's filter;
//   proxy hosts (proxy.on)          → an nftables input rule resets every TCP port but
//     80/443, as Cloudflare's proxy carries no SMTP.
//
// Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN) and the `ip` and `nft` tools; without them the
// constructor throws NetnsError saying so. The destructor tears everything down — every
// process inside the namespaces is killed, namespaces (and with them the veths and the
// bridge) and /etc/netns entries are deleted — on success, on exceptions and on Ctrl-C
// (callers unwind). Leftovers of a crashed run with the same N are removed first.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "mailsim/net/loopback_fabric.hpp"  // Dial, DialError
#include "mailsim/world/world.hpp"

namespace mailsim::net {

class NetnsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------
// Running programs (no shell: argv only, so no quoting bugs and no injection).

struct CommandResult {
  int exit_code = -1;  // -1 when killed by the timeout or a signal
  bool timed_out = false;
  std::string output;  // stdout and stderr interleaved, capped at 1 MiB
};
// Runs argv[0] (PATH lookup) with `input` on stdin, waits at most `timeout`, then kills it.
CommandResult run_command(const std::vector<std::string>& argv, std::string_view input = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Why netns mode cannot run here, or "" if it can: not root, no `ip`, no `nft`, or the
// kernel refused to create a namespace. Cheap; --fabric netns calls it to fail fast.
std::string netns_unavailable_reason();

// Namespaces whose name starts with `prefix` ("mailsim-7-"), from `ip netns list`.
std::vector<std::string> list_namespaces(std::string_view prefix);
// Pids of the processes inside a namespace (`ip netns pids`).
std::vector<pid_t> namespace_pids(std::string_view ns);

struct NetnsOptions {
  unsigned run_index = 1;         // N in the names; 1..250 like the loopback fabric's block
  std::string prefix = "mailsim";  // names are "<prefix>-<N>-…"
};

class NetnsFabric {
 public:
  // Builds the whole world network. Throws NetnsError (with the failing command and its
  // output) and leaves nothing behind if any step fails.
  explicit NetnsFabric(const world::World& world, NetnsOptions options = {});
  ~NetnsFabric();
  NetnsFabric(const NetnsFabric&) = delete;
  NetnsFabric& operator=(const NetnsFabric&) = delete;

  // Kills every process in the namespaces, deletes them and their /etc/netns entries.
  // Idempotent, never throws; returns what could not be removed (empty = clean).
  std::vector<std::string> teardown() noexcept;

  // The namespace of a host (name or virtual address); throws std::invalid_argument.
  const std::string& ns_for(std::string_view host) const;
  const std::string& bridge_ns() const { return bridge_ns_; }
  std::vector<std::string> namespaces() const;  // bridge first, then hosts in world order
  const std::string& prefix() const { return prefix_; }  // "mailsim-7-"

  // Writes /etc/netns/<ns>/resolv.conf naming only `dns_address` (no search list, one
  // attempt, short timeout) for the host's namespace.
  void write_resolv_conf(std::string_view host, std::string_view dns_address);

  // Runs `fn` on a fresh thread that has joined the host's network namespace (setns(2)
  // affects only the calling thread; sockets keep the namespace they were created in, and
  // threads that thread starts inherit it). Returns fn's result or rethrows its exception.
  template <class F>
  auto run_in(std::string_view host, F&& fn) -> std::invoke_result_t<F&> {
    using R = std::invoke_result_t<F&>;
    const std::string ns = ns_for(host);
    std::exception_ptr error;
    if constexpr (std::is_void_v<R>) {
      std::thread t([&] {
        try {
          enter(ns);
          fn();
        } catch (...) {
          error = std::current_exception();
        }
      });
      t.join();
      if (error) std::rethrow_exception(error);
    } else {
      std::optional<R> out;
      std::thread t([&] {
        try {
          enter(ns);
          out.emplace(fn());
        } catch (...) {
          error = std::current_exception();
        }
      });
      t.join();
      if (error) std::rethrow_exception(error);
      return std::move(*out);
    }
  }

  // `ip netns exec <ns> argv…`: the program sees the host's network and its resolv.conf.
  CommandResult exec(std::string_view host, const std::vector<std::string>& argv,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Starts a long-running program in the host's namespace with stdout/stderr appended to
  // `log_path`; returns its pid. teardown() kills it with everything else in the namespace.
  pid_t spawn(std::string_view host, const std::vector<std::string>& argv,
              const std::string& log_path) const;

  // The route of one TCP connection, as the network will treat it: identity addresses and
  // ports (the fabric needs no translation), errors predicted from the same policy the
  // nftables rules enforce, so in-process actors can report them without waiting.
  Dial dial(std::string_view from, std::string_view to_virtual, std::uint16_t port) const;

  // Joins the calling thread to namespace `ns` (throws NetnsError).
  static void enter(const std::string& ns);
  // exec()/spawn() by namespace name, for callers that know the namespace but not the
  // fabric (the real-MTA SUTs get only SutContext::netns).
  static CommandResult exec_in(const std::string& ns, const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));
  static pid_t spawn_in(const std::string& ns, const std::vector<std::string>& argv,
                        const std::string& log_path);

 private:
  void build(const world::World& world);
  const world::Host* find_host(std::string_view name_or_address) const;

  std::vector<world::Host> hosts_;
  std::string prefix_;
  std::string bridge_ns_;
  std::map<std::string, std::string> host_ns_;  // host name → namespace
  std::vector<std::string> created_;             // namespaces we created, in order
  bool torn_down_ = false;
};

}  // namespace mailsim::net
