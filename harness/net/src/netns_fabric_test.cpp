// The netns fabric on a real kernel: namespaces, addresses, reachability between world
// hosts, the seal (no route out), nftables policy (blocked egress times out, the proxy
// resets SMTP), processes inside, and teardown that leaves nothing. Needs root; skipped
// (with the reason) otherwise.
#include "mailsim/net/netns_fabric.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "mailsim/world/baseline.hpp"
#include "mailsim/world/breakage.hpp"

namespace mailsim::net {
namespace {

using namespace std::chrono_literals;

// Connect with a deadline; returns 0 or the errno (ETIMEDOUT for the deadline).
int try_connect(const std::string& addr, std::uint16_t port, std::chrono::milliseconds limit) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int err = rc == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(limit.count()));
    if (n == 0) {
      err = ETIMEDOUT;
    } else {
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  ::close(fd);
  return err;
}

// A listening socket on addr:port (created on the calling thread, so in its namespace).
int listen_on(const std::string& addr, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 8) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("listen: ") + std::strerror(err));
  }
  return fd;
}

class NetnsFabricTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = netns_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

world::World broken_world() {
  world::World w = world::guide_baseline();
  world::apply_breakages(w, {{"port25.blocked", {{"host", "mx"}}}, {"proxy.on", {{"name", "mx"}}}},
                         world::BreakageStage::world);
  return w;
}

TEST_F(NetnsFabricTest, BuildsOneNamespacePerHostAndTearsAllDown) {
  world::World w = world::guide_baseline();
  std::vector<std::string> names;
  {
    NetnsFabric fabric(w, {201, "mailsimt"});
    names = fabric.namespaces();
    ASSERT_EQ(names.size(), w.hosts().size() + 1);
    EXPECT_EQ(list_namespaces("mailsimt-201-"), [&] {
      auto s = names;
      std::sort(s.begin(), s.end());
      return s;
    }());
    // The SUT's namespace carries the guide's real address, and nothing routes out.
    const world::Host* sut = w.host("mx.nodeseek.com");
    ASSERT_NE(sut, nullptr);
    auto addr = fabric.exec(sut->name, {"ip", "-o", "addr", "show", "dev", "eth0"});
    EXPECT_EQ(addr.exit_code, 0) << addr.output;
    EXPECT_NE(addr.output.find("12.34.56.78/32"), std::string::npos) << addr.output;
    auto routes = fabric.exec(sut->name, {"ip", "route", "show", "default"});
    EXPECT_EQ(routes.exit_code, 0);
    EXPECT_EQ(routes.output, "") << "a default route would lead out of the world";
    auto get = fabric.exec(sut->name, {"ip", "route", "get", "192.0.2.1"});
    EXPECT_NE(get.exit_code, 0) << get.output;
    EXPECT_NE(get.output.find("unreachable"), std::string::npos) << get.output;

    // A long-running process inside is killed by teardown.
    pid_t pid = fabric.spawn(sut->name, {"sleep", "600"}, "/dev/null");
    ASSERT_GT(pid, 0);
    for (int i = 0; i < 50 && namespace_pids(fabric.ns_for(sut->name)).empty(); ++i)
      std::this_thread::sleep_for(20ms);
    EXPECT_EQ(namespace_pids(fabric.ns_for(sut->name)), std::vector<pid_t>{pid});
    fabric.write_resolv_conf(sut->name, "203.0.113.53");
    EXPECT_TRUE(std::filesystem::exists("/etc/netns/" + fabric.ns_for(sut->name) + "/resolv.conf"));
    EXPECT_EQ(fabric.teardown(), std::vector<std::string>{});
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status));
  }
  EXPECT_TRUE(list_namespaces("mailsimt-201-").empty());
  for (const auto& n : names) EXPECT_FALSE(std::filesystem::exists("/etc/netns/" + n));
  // No veth of ours ever appears in the initial namespace.
  auto links = run_command({"ip", "-o", "link", "show"});
  EXPECT_EQ(links.output.find("mailsimt"), std::string::npos);
}

TEST_F(NetnsFabricTest, WorldHostsReachEachOtherAndNothingElse) {
  world::World w = world::guide_baseline();
  NetnsFabric fabric(w, {202, "mailsimt"});
  const world::Host* gmail = nullptr;
  for (const auto& h : w.hosts())
    if (h.role == world::HostRole::receiver && h.persona == "gmail") gmail = &h;
  ASSERT_NE(gmail, nullptr);
  const std::string rx = gmail->addresses.front();
  int lfd = fabric.run_in(gmail->name, [&] { return listen_on(rx, 25); });
  // The SUT reaches gmail's MX on its real address, and gmail sees the SUT's real address.
  std::string peer;
  std::thread accepter([&] {
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    int c = ::accept(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
    if (c >= 0) {
      char buf[64];
      peer = ::inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
      ::close(c);
    }
  });
  EXPECT_EQ(fabric.run_in("mx.nodeseek.com", [&] { return try_connect(rx, 25, 3000ms); }), 0);
  accepter.join();
  ::close(lfd);
  EXPECT_EQ(peer, "12.34.56.78");
  // A closed port answers with RST at once.
  EXPECT_EQ(fabric.run_in("mx.nodeseek.com", [&] { return try_connect(rx, 26, 3000ms); }),
            ECONNREFUSED);
  // Outside the world (RFC 5737 documentation address): no route, refused locally, no
  // packet leaves the namespace.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(fabric.run_in("mx.nodeseek.com", [&] { return try_connect("192.0.2.1", 25, 3000ms); }),
            ENETUNREACH);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  // Nothing was added to the initial namespace: it has no route to the world's addresses
  // through our fabric (checked by route lookup only — no socket from the host namespace).
  auto links = run_command({"ip", "-o", "addr", "show"});
  EXPECT_EQ(links.output.find(" " + rx + "/"), std::string::npos);
}

TEST_F(NetnsFabricTest, PolicyIsEnforcedByTheNetwork) {
  world::World w = broken_world();
  NetnsFabric fabric(w, {203, "mailsimt"});
  const world::Host* gmail = nullptr;
  const world::Host* proxy = nullptr;
  for (const auto& h : w.hosts()) {
    if (h.role == world::HostRole::receiver && h.persona == "gmail") gmail = &h;
    if (h.role == world::HostRole::proxy) proxy = &h;
  }
  ASSERT_NE(gmail, nullptr);
  ASSERT_NE(proxy, nullptr);
  const std::string rx = gmail->addresses.front();
  int lfd = fabric.run_in(gmail->name, [&] { return listen_on(rx, 25); });
  int lfd2 = fabric.run_in(gmail->name, [&] { return listen_on(rx, 587); });
  // port25.blocked: the SYN is dropped — a timeout, not a refusal; other ports still work.
  EXPECT_EQ(fabric.run_in("mx.nodeseek.com", [&] { return try_connect(rx, 25, 700ms); }),
            ETIMEDOUT);
  EXPECT_EQ(fabric.run_in("mx.nodeseek.com", [&] { return try_connect(rx, 587, 3000ms); }), 0);
  EXPECT_EQ(fabric.dial("mx.nodeseek.com", rx, 25).error, DialError::egress_blocked);
  // proxy.on: even with something listening on 25 inside the proxy, SMTP is reset.
  const std::string px = proxy->addresses.front();
  int pfd = fabric.run_in(proxy->name, [&] { return listen_on(px, 25); });
  EXPECT_EQ(fabric.run_in(gmail->name, [&] { return try_connect(px, 25, 3000ms); }), ECONNREFUSED);
  EXPECT_EQ(fabric.dial(gmail->name, px, 25).error, DialError::refused);
  ::close(lfd);
  ::close(lfd2);
  ::close(pfd);
}

TEST_F(NetnsFabricTest, LeftoversOfACrashedRunAreRemovedFirst) {
  ASSERT_EQ(run_command({"ip", "netns", "add", "mailsimt-204-h99"}).exit_code, 0);
  world::World w = world::guide_baseline();
  {
    NetnsFabric fabric(w, {204, "mailsimt"});
    auto names = list_namespaces("mailsimt-204-");
    EXPECT_EQ(std::count(names.begin(), names.end(), "mailsimt-204-h99"), 0);
  }
  EXPECT_TRUE(list_namespaces("mailsimt-204-").empty());
}

TEST(NetnsCommand, RunCommandReportsExitOutputAndTimeout) {
  auto ok = run_command({"sh", "-c", "cat; echo err >&2; exit 3"}, "in\n");
  EXPECT_EQ(ok.exit_code, 3);
  EXPECT_EQ(ok.output, "in\nerr\n");
  auto slow = run_command({"sleep", "5"}, {}, 200ms);
  EXPECT_TRUE(slow.timed_out);
  EXPECT_EQ(slow.exit_code, -1);
  EXPECT_THROW(run_command({"/nonexistent/mailsim-no-such-tool"}), NetnsError);
}

}  // namespace
}  // namespace mailsim::net
