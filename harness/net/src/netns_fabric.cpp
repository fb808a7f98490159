// The netns fabric: build and tear down the namespaces, veths, bridge, addresses, routes
// and nftables rules of one world (see netns_fabric.hpp for the shape and the seal).
#include "mailsim/net/netns_fabric.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/core.h>

namespace mailsim::net {

namespace fs = std::filesystem;

namespace {

constexpr const char* kBridge = "br0";
constexpr auto kIpTimeout = std::chrono::seconds(20);

bool has_program(const char* name) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  if (p.find("sbin") == std::string::npos) p += ":/usr/sbin:/sbin";
  std::stringstream ss(p);
  std::string dir;
  while (std::getline(ss, dir, ':'))
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

void must(const std::vector<std::string>& argv, std::string_view input = {}) {
  CommandResult r = run_command(argv, input, kIpTimeout);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw NetnsError(fmt::format("netns fabric: `{}` failed ({}): {}{}", cmd,
                                 r.timed_out ? "timed out" : fmt::format("exit {}", r.exit_code),
                                 r.output, input.empty() ? "" : fmt::format("\ninput:\n{}", input)));
  }
}

bool is_v6(std::string_view a) { return a.find(':') != std::string_view::npos; }

}  // namespace

std::string netns_unavailable_reason() {
  if (::geteuid() != 0)
    return "--fabric netns needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN to create network "
           "namespaces and veth pairs); run as root, or use --fabric loopback";
  if (!has_program("ip")) return "--fabric netns needs the `ip` tool (Debian package iproute2)";
  if (!has_program("nft"))
    return "--fabric netns needs the `nft` tool (Debian package nftables; scripts/bootstrap)";
  // The kernel may still refuse (a container without CAP_SYS_ADMIN, netns disabled).
  // Unique per call: parallel runs of one process (--jobs) each probe at once.
  static std::atomic<unsigned> probes{0};
  std::string probe = fmt::format("mailsim-probe-{}-{}", ::getpid(), probes++);
  CommandResult r = run_command({"ip", "netns", "add", probe}, {}, kIpTimeout);
  if (r.exit_code != 0) return "--fabric netns: the kernel refused a network namespace: " + r.output;
  run_command({"ip", "netns", "del", probe}, {}, kIpTimeout);
  return {};
}

std::vector<std::string> list_namespaces(std::string_view prefix) {
  std::vector<std::string> out;
  // /run/netns is where `ip netns add` pins them; reading it needs no subprocess.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<pid_t> namespace_pids(std::string_view ns) {
  std::vector<pid_t> out;
  CommandResult r = run_command({"ip", "netns", "pids", std::string(ns)}, {}, kIpTimeout);
  std::stringstream ss(r.output);
  long pid = 0;
  while (ss >> pid)
    if (pid > 0) out.push_back(static_cast<pid_t>(pid));
  return out;
}

NetnsFabric::NetnsFabric(const world::World& world, NetnsOptions options)
    : hosts_(world.hosts()) {
  if (options.run_index < 1 || options.run_index > 250)
    throw std::invalid_argument(
        fmt::format("netns fabric: run index {} outside 1..250", options.run_index));
  if (auto why = netns_unavailable_reason(); !why.empty()) throw NetnsError(why);
  prefix_ = fmt::format("{}-{}-", options.prefix, options.run_index);
  bridge_ns_ = prefix_ + "br";
  for (std::size_t i = 0; i < hosts_.size(); ++i)
    host_ns_[hosts_[i].name] = fmt::format("{}h{}", prefix_, i);
  // A crashed earlier run with the same N left these behind: its processes and names would
  // collide with ours.
  created_ = list_namespaces(prefix_);
  teardown();
  torn_down_ = false;
  created_.clear();
  try {
    build(world);
  } catch (...) {
    teardown();
    throw;
  }
}

NetnsFabric::~NetnsFabric() { teardown(); }

void NetnsFabric::build(const world::World& world) {
  // 1. Namespaces, one `ip` for all of them.
  std::string batch = fmt::format("netns add {}\n", bridge_ns_);
  for (const auto& h : hosts_) batch += fmt::format("netns add {}\n", host_ns_.at(h.name));
  // Record them before running, so a partial failure still tears down what exists.
  created_.push_back(bridge_ns_);
  for (const auto& h : hosts_) created_.push_back(host_ns_.at(h.name));
  must({"ip", "-batch", "-"}, batch);

  // 2. The bridge and one veth per host, created in the bridge namespace with the peer
  //    born directly in the host's namespace (nothing ever exists in the initial one).
  std::string br = fmt::format("link add {} type bridge\nlink set {} up\nlink set lo up\n",
                               kBridge, kBridge);
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    const std::string port = fmt::format("h{}", i);
    br += fmt::format("link add {} type veth peer name eth0 netns {}\n", port,
                      host_ns_.at(hosts_[i].name));
    br += fmt::format("link set {} master {}\nlink set {} up\n", port, kBridge, port);
  }
  must({"ip", "-n", bridge_ns_, "-batch", "-"}, br);
  // The bridge namespace forwards nothing at layer 3: it has no addresses at all.

  // 3. Addresses and routes per host: every world address gets a host route on eth0, and
  //    nothing else — no default route, so the world is all there is.
  std::vector<std::string> all;
  for (const auto& h : world.hosts())
    for (const auto& a : h.addresses) all.push_back(a);
  for (const auto& h : hosts_) {
    const std::string& ns = host_ns_.at(h.name);
    // Duplicate Address Detection would hold IPv6 addresses "tentative" for a second or
    // two; the world's plan has no duplicates, so skip it (RFC 4862 §5.4 allows that).
    must({"ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
          "-w", "net.ipv6.conf.default.accept_dad=0"});
    std::string cmds = "link set lo up\nlink set eth0 up\n";
    for (const auto& a : h.addresses)
      cmds += is_v6(a) ? fmt::format("addr add {}/128 dev eth0 nodad\n", a)
                       : fmt::format("addr add {}/32 dev eth0\n", a);
    for (const auto& a : all) {
      if (std::find(h.addresses.begin(), h.addresses.end(), a) != h.addresses.end()) continue;
      // Prefer the host's own address of the same family as source (the world's peers
      // check the client address: iprev, SPF).
      std::string src;
      for (const auto& own : h.addresses)
        if (is_v6(own) == is_v6(a)) {
          src = own;
          break;
        }
      cmds += fmt::format("route replace {} dev eth0{}\n", a,
                          src.empty() ? "" : " src " + src);
    }
    must({"ip", "-n", ns, "-batch", "-"}, cmds);

    // 4. Policy in the network (nftables), not in the programs.
    std::string rules;
    if (!h.blocked_egress_ports.empty()) {
      std::string ports;
      for (auto p : h.blocked_egress_ports) ports += (ports.empty() ? "" : ", ") + std::to_string(p);
      // Guide §1: a VPS provider blocking port 25 drops the SYNs silently, so clients see
      // a connect timeout, not a refusal. Only towards the world (eth0): the host's own
      // loopback (a real MTA's submission port, its milter) is not the provider's network.
      rules += fmt::format(
          "  chain egress {{\n    type filter hook output priority 0; policy accept;\n"
          "    oifname \"eth0\" tcp dport {{ {} }} drop\n  }}\n",
          ports);
    }
    if (h.role == world::HostRole::proxy) {
      std::string open;
      for (auto p : h.open_ports) open += (open.empty() ? "" : ", ") + std::to_string(p);
      if (open.empty()) open = "80, 443";
      // Cloudflare's proxy carries HTTP(S) only: every other TCP port is reset.
      rules += fmt::format(
          "  chain ingress {{\n    type filter hook input priority 0; policy accept;\n"
          "    iifname \"eth0\" tcp dport != {{ {} }} reject with tcp reset\n  }}\n",
          open);
    }
    if (!rules.empty())
      must({"ip", "netns", "exec", ns, "nft", "-f", "-"}, "table inet mailsim {\n" + rules + "}\n");
  }
}

std::vector<std::string> NetnsFabric::teardown() noexcept {
  std::vector<std::string> left;
  if (torn_down_) return left;
  torn_down_ = true;
  try {
    // Processes first: a namespace with a live process would survive `ip netns del`
    // (the process pins it) and keep its sockets.
    for (int round = 0; round < 2; ++round) {
      bool any = false;
      for (const auto& ns : created_)
        for (pid_t pid : namespace_pids(ns)) {
          if (pid == ::getpid()) continue;
          ::kill(pid, round == 0 ? SIGTERM : SIGKILL);
          any = true;
        }
      if (!any) break;
      // Give SIGTERM a moment (Postfix's master stops its children on it).
      for (int i = 0; i < 20 && round == 0; ++i) {
        bool alive = false;
        for (const auto& ns : created_) alive = alive || !namespace_pids(ns).empty();
        if (!alive) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    std::string batch;
    for (auto it = created_.rbegin(); it != created_.rend(); ++it)
      if (fs::exists("/run/netns/" + *it)) batch += "netns del " + *it + "\n";
    if (!batch.empty()) run_command({"ip", "-force", "-batch", "-"}, batch, kIpTimeout);
    for (const auto& ns : created_) {
      std::error_code ec;
      fs::remove_all(fs::path("/etc/netns") / ns, ec);
      if (fs::exists("/run/netns/" + ns)) left.push_back("namespace " + ns);
      if (fs::exists(fs::path("/etc/netns") / ns)) left.push_back("/etc/netns/" + ns);
    }
  } catch (const std::exception& e) {
    left.push_back(std::string("teardown: ") + e.what());
  }
  return left;
}

const world::Host* NetnsFabric::find_host(std::string_view name_or_address) const {
  for (const auto& h : hosts_) {
    if (h.name == name_or_address) return &h;
    for (const auto& a : h.addresses)
      if (a == name_or_address) return &h;
  }
  return nullptr;
}

const std::string& NetnsFabric::ns_for(std::string_view host) const {
  const world::Host* h = find_host(host);
  if (!h) throw std::invalid_argument(fmt::format("netns fabric: no host '{}' in the world", host));
  return host_ns_.at(h->name);
}

std::vector<std::string> NetnsFabric::namespaces() const {
  std::vector<std::string> out = {bridge_ns_};
  for (const auto& h : hosts_) out.push_back(host_ns_.at(h.name));
  return out;
}

void NetnsFabric::write_resolv_conf(std::string_view host, std::string_view dns_address) {
  fs::path dir = fs::path("/etc/netns") / ns_for(host);
  fs::create_directories(dir);
  std::ofstream out(dir / "resolv.conf", std::ios::trunc);
  // The fake DNS only: no search list (a bare name must not wander), one try, short
  // timeout — the world answers at once or not at all.
  out << "# mailsim netns fabric: the fake DNS is the only resolver in this world\n"
      << "nameserver " << dns_address << "\n"
      << "options timeout:2 attempts:1\n";
  if (!out) throw NetnsError(fmt::format("cannot write {}/resolv.conf", dir.string()));
}

Dial NetnsFabric::dial(std::string_view from, std::string_view to_virtual,
                       std::uint16_t port) const {
  Dial d;
  auto fail = [&](DialError e, std::string msg) {
    d.error = e;
    d.message = std::move(msg);
    return d;
  };
  const world::Host* src = find_host(from);
  const world::Host* dst = find_host(to_virtual);
  if (!src || !dst)
    return fail(DialError::no_route,
                fmt::format("no route: address outside the sealed world ({})",
                            src ? to_virtual : from));
  if (src->blocked_egress_ports.contains(port))
    return fail(DialError::egress_blocked,
                fmt::format("port {} blocked by the hosting provider", port));
  if (!dst->open_ports.contains(port) && dst->role == world::HostRole::proxy)
    return fail(DialError::refused, "connection refused: Cloudflare proxy does not carry SMTP");
  for (const auto& a : src->addresses)
    if (is_v6(a) == is_v6(to_virtual) || d.local_wire.empty()) d.local_wire = a;
  for (const auto& a : src->addresses)
    if (is_v6(a) == is_v6(to_virtual)) {
      d.local_wire = a;
      break;
    }
  d.remote_wire = std::string(to_virtual);
  d.remote_port = port;
  d.remote_host = dst->name;
  return d;
}

}  // namespace mailsim::net
