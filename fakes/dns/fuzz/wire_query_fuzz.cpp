// libFuzzer target: any bytes into handle_wire_query, over both transports, against a
// world with records, CNAME chains and every fault. It must never crash, and a response
// must always be a DNS message with QR=1 echoing the query's ID.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "mailsim/dns/wire.hpp"

namespace {

const mailsim::world::World& fuzz_world() {
  static const mailsim::world::World world = [] {
    using namespace mailsim::world;
    World w;
    w.add_zone("example.com");
    w.add_zone("");  // and the root, so every name is in the world for half the inputs
    w.add(make_a("example.com", "192.0.2.1"));
    w.add(make_mx("example.com", 10, "mail.example.com"));
    w.add(make_txt_strings("example.com", {"v=spf1 ", "mx -all"}));
    w.add(make_txt("big.example.com", std::string(900, 'x')));
    w.add(make_cname("www.example.com", "example.com"));
    w.add(make_cname("a.example.com", "b.example.com"));
    w.add(make_cname("b.example.com", "a.example.com"));
    w.add(make_aaaa("example.com", "2001:db8::1"));
    w.add_fault({"sf.example.com", std::nullopt, DnsFaultKind::servfail});
    w.add_fault({"tc.example.com", std::nullopt, DnsFaultKind::truncate});
    w.add_fault({"to.example.com", std::nullopt, DnsFaultKind::timeout});
    return w;
  }();
  return world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> query(data, size);
  for (auto transport : {mailsim::dns::Transport::udp, mailsim::dns::Transport::tcp}) {
    auto result = mailsim::dns::handle_wire_query(fuzz_world(), query, transport);
    if (!result.response) continue;
    const auto& r = *result.response;
    if (r.size() < mailsim::dns::kDnsHeaderSize || r[0] != data[0] || r[1] != data[1] ||
        !(r[2] & 0x80))
      std::abort();
    if (transport == mailsim::dns::Transport::udp && r.size() > mailsim::dns::kMaxUdpPayload)
      std::abort();
  }
  return 0;
}
