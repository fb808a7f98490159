#include "mailsim/net/loopback_fabric.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "mailsim/world/baseline.hpp"
#include "mailsim/world/breakage.hpp"

namespace mailsim::net {
namespace {

namespace ip = boost::asio::ip;
using world::guide_baseline;

// Blocks 230+ are used by these tests so they do not collide with runs in parallel.
FabricOptions opts(unsigned n) {
  FabricOptions o;
  o.run_index = n;
  return o;
}

TEST(LoopbackFabric, MapsEveryWorldAddressBothWaysInsideItsBlock) {
  auto w = guide_baseline();
  LoopbackFabric f(w, opts(231));
  EXPECT_EQ(f.block(), "127.231.0.0/16");
  std::size_t n = 0;
  for (const auto& h : w.hosts())
    for (const auto& a : h.addresses) {
      auto wire = f.wire_for(a);
      ASSERT_TRUE(wire) << a;
      EXPECT_EQ(wire->rfind("127.231.", 0), 0u) << *wire;
      EXPECT_EQ(f.virtual_for(*wire), a);
      ++n;
    }
  EXPECT_EQ(f.address_map().size(), n);
  EXPECT_EQ(f.wire_for("12.34.56.78"), "127.231.0.2");  // after ns.mailsim.test
  EXPECT_EQ(f.wire_for("8.8.8.8"), std::nullopt);       // sealed
  EXPECT_EQ(f.virtual_for("127.0.0.1"), std::nullopt);
  EXPECT_EQ(f.virtual_for("127.232.0.2"), std::nullopt);  // another run's block
  EXPECT_EQ(f.virtual_for("::ffff:127.231.0.2"), "12.34.56.78");
  EXPECT_EQ(f.wire_port(25), 20025);
  EXPECT_EQ(f.virtual_port(20025), 25);
  EXPECT_EQ(f.wire_port(2525), 2525);
  EXPECT_THROW(LoopbackFabric(w, opts(0)), std::invalid_argument);
  EXPECT_THROW(LoopbackFabric(w, opts(251)), std::invalid_argument);
}

TEST(LoopbackFabric, Ipv6VirtualAddressesGetIpv4Aliases) {
  auto w = guide_baseline();
  world::apply_breakage(w, {"ipv6.add", {}});
  LoopbackFabric f(w, opts(233));
  auto wire = f.wire_for("2a01:4f8:1:2:0:0:0:78");  // non-canonical spelling
  ASSERT_TRUE(wire);
  EXPECT_EQ(f.virtual_for(*wire), "2a01:4f8:1:2::78");
  Dial d = f.dial("mx.nodeseek.com", "2a01:4f8:1:2::78", 25);
  EXPECT_TRUE(d.ok()) << d.message;
}

TEST(LoopbackFabric, DialErrorsSayWhy) {
  auto w = guide_baseline();
  world::apply_breakages(w, {{"port25.blocked", {}}, {"proxy.on", {}}},
                         world::BreakageStage::world);
  LoopbackFabric f(w, opts(234));
  EXPECT_FALSE(f.egress_allowed("mx.nodeseek.com", 25));
  EXPECT_FALSE(f.egress_allowed("12.34.56.78", 25));
  EXPECT_TRUE(f.egress_allowed("mx.nodeseek.com", 587));
  EXPECT_FALSE(f.egress_allowed("unknown.example", 443));

  Dial d = f.dial("12.34.56.78", "142.250.27.26", 25);
  EXPECT_EQ(d.error, DialError::egress_blocked);
  EXPECT_EQ(d.message, "port 25 blocked by the hosting provider");
  d = f.dial("209.85.220.41", "104.21.48.10", 25);
  EXPECT_EQ(d.error, DialError::refused);
  EXPECT_EQ(d.message, "connection refused: Cloudflare proxy does not carry SMTP");
  EXPECT_TRUE(f.dial("209.85.220.41", "104.21.48.10", 443).ok());
  d = f.dial("209.85.220.41", "1.1.1.1", 25);
  EXPECT_EQ(d.error, DialError::no_route);
  EXPECT_EQ(d.message, "no route: address outside the sealed world (1.1.1.1)");
  d = f.dial("10.0.0.5", "142.250.27.26", 25);
  EXPECT_EQ(d.error, DialError::no_route);
  d = f.dial("209.85.220.41", "142.250.27.26", 80);
  EXPECT_EQ(d.message, "connection refused: gmail-smtp-in.l.google.com does not listen on port 80");
}

// Real sockets: a receiver listens on its alias, the SUT dials through the fabric, and the
// receiver sees the SUT's virtual address — without root.
TEST(LoopbackFabric, BindsAndConnectsOnRealLoopbackAliases) {
  auto w = guide_baseline();
  LoopbackFabric f(w, opts(235));
  boost::asio::io_context io;
  ip::tcp::acceptor acceptor(io);
  auto ep = f.listen_endpoint("gmail-smtp-in.l.google.com", 25);
  EXPECT_EQ(ep.address().to_string(), *f.wire_for("142.250.27.26"));
  acceptor.open(ep.protocol());
  acceptor.set_option(ip::tcp::acceptor::reuse_address(true));
  boost::system::error_code ec;
  acceptor.bind(ep, ec);
  ASSERT_FALSE(ec) << "bind " << ep << ": " << ec.message();
  acceptor.listen();

  Dial d = f.dial("mx.nodeseek.com", "142.250.27.26", 25);
  ASSERT_TRUE(d.ok()) << d.message;
  EXPECT_EQ(d.remote_host, "gmail-smtp-in.l.google.com");
  ip::tcp::socket client(io);
  ASSERT_FALSE(connect(client, d)) << "connect";
  ip::tcp::socket server(io);
  acceptor.accept(server);
  auto peer = server.remote_endpoint();
  EXPECT_EQ(f.virtual_for(peer.address().to_string()), "12.34.56.78");
  EXPECT_EQ(f.virtual_port(server.local_endpoint().port()), 25);
  boost::asio::write(client, boost::asio::buffer(std::string("EHLO mx.nodeseek.com\r\n")));
  char buf[64] = {};
  std::size_t n = server.read_some(boost::asio::buffer(buf));
  EXPECT_EQ(std::string(buf, n), "EHLO mx.nodeseek.com\r\n");

  // Nobody listens on the yahoo alias: a real RST, reported by connect().
  Dial y = f.dial("mx.nodeseek.com", "67.195.204.72", 25);
  ASSERT_TRUE(y.ok());
  ip::tcp::socket c2(io);
  EXPECT_EQ(connect(c2, y), boost::asio::error::connection_refused);
  // A failed dial never opens a socket.
  ip::tcp::socket c3(io);
  EXPECT_TRUE(connect(c3, f.dial("mx.nodeseek.com", "8.8.8.8", 53)));
  EXPECT_FALSE(c3.is_open());
}

}  // namespace
}  // namespace mailsim::net
