// Test support: the guide-baseline records the auth checks need, built in the test so each
// test states exactly the DNS it depends on (posteio-guide.md §2–§5).
#pragma once

#include <memory>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::auth::testing {

inline world::World guide_world() {
  using namespace mailsim::world;
  World w;
  w.add_zone("nodeseek.com");
  w.add_zone("in-addr.arpa");
  w.add_zone("ip6.arpa");
  w.add_zone("zen.spamhaus.org");
  w.add_zone("cloudflare.net");
  w.add(make_a("nodeseek.com", "12.34.56.78"));
  w.add(make_mx("nodeseek.com", 10, "mx.nodeseek.com"));
  w.add(make_txt("nodeseek.com", "v=spf1 a mx -all"));
  w.add(make_a("mx.nodeseek.com", "12.34.56.78"));
  w.add(make_ptr("78.56.34.12.in-addr.arpa", "mx.nodeseek.com"));
  w.add(make_txt("_dmarc.nodeseek.com",
                 "v=DMARC1; p=reject; rua=mailto:postmaster@nodeseek.com; "
                 "ruf=mailto:postmaster@nodeseek.com"));
  return w;
}

// The resolver over a world the caller keeps alive.
inline std::unique_ptr<dns::Resolver> resolver_for(const world::World& w) {
  return dns::make_world_resolver(w);
}

}  // namespace mailsim::auth::testing
