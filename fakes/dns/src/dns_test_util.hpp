// Helpers the fake-DNS tests share: a query built with ldns, and a loopback address.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "ldns_util.hpp"

namespace mailsim::dns::test {

// A query for name/type in wire form, built with ldns. edns_size 0 = no OPT.
inline std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type,
                                            std::uint16_t id = 0x1234,
                                            std::uint16_t edns_size = 0) {
  ldns_rdf* owner = nullptr;
  EXPECT_EQ(ldns_str2rdf_dname(&owner, (name + ".").c_str()), LDNS_STATUS_OK);
  detail::PktPtr q(
      ldns_pkt_query_new(owner, static_cast<ldns_rr_type>(type), LDNS_RR_CLASS_IN, 0));
  ldns_pkt_set_id(q.get(), id);
  if (edns_size) ldns_pkt_set_edns_udp_size(q.get(), edns_size);
  std::uint8_t* data = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&data, q.get(), &size), LDNS_STATUS_OK);
  std::vector<std::uint8_t> out(data, data + size);
  std::free(data);
  return out;
}

// 127.0.0.1:port.
inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace mailsim::dns::test
