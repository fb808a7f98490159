#include "mailsim/dns/wire.hpp"

#include <algorithm>

#include "ldns_util.hpp"
#include "mailsim/dns/resolver.hpp"

namespace mailsim::dns {

using world::RrType;

std::string_view to_string(Rcode rcode) {
  switch (rcode) {
    case Rcode::noerror: return "NOERROR";
    case Rcode::formerr: return "FORMERR";
    case Rcode::servfail: return "SERVFAIL";
    case Rcode::nxdomain: return "NXDOMAIN";
    case Rcode::notimp: return "NOTIMP";
    case Rcode::refused: return "REFUSED";
    case Rcode::badvers: return "BADVERS";
  }
  return "?";
}

namespace {

using detail::PktPtr;
using detail::RrPtr;

constexpr std::uint16_t kTypeIxfr = 251, kTypeAxfr = 252, kTypeAny = 255;
constexpr std::uint16_t kClassIn = 1, kClassAny = 255;

// A FORMERR built from the raw header alone, for queries ldns cannot parse: ID and opcode
// echoed, QR=1, no sections (RFC 1035 §4.1.1).
std::vector<std::uint8_t> header_only_reply(std::span<const std::uint8_t> query, Rcode rcode) {
  std::vector<std::uint8_t> out(kDnsHeaderSize, 0);
  out[0] = query[0];
  out[1] = query[1];
  std::uint8_t opcode_bits = query[2] & 0x78;  // OPCODE stays; RD echoed
  out[2] = static_cast<std::uint8_t>(0x80 | opcode_bits | (query[2] & 0x01));
  out[3] = static_cast<std::uint8_t>(static_cast<std::uint16_t>(rcode) & 0x0f);
  return out;
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* pkt) {
  std::uint8_t* data = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&data, pkt, &size) != LDNS_STATUS_OK || data == nullptr) return {};
  std::vector<std::uint8_t> out(data, data + size);
  free(data);  // NOLINT: allocated by ldns with malloc
  return out;
}

// Adds the zone's SOA to the authority section of a negative answer, TTL capped by the
// SOA MINIMUM field (RFC 2308 §3).
void add_negative_soa(const world::World& world, const std::string& name, ldns_pkt* reply) {
  auto zone = world.zone_for(name);
  if (!zone) return;
  auto soa = world.find(*zone, RrType::SOA);
  if (soa.empty()) return;
  std::string error;
  RrPtr rr = detail::rr_from_record(soa.front(), &error);
  if (!rr) return;
  if (ldns_rr_rd_count(rr.get()) == 7) {
    std::uint32_t minimum = ldns_rdf2native_int32(ldns_rr_rdf(rr.get(), 6));
    ldns_rr_set_ttl(rr.get(), std::min(ldns_rr_ttl(rr.get()), minimum));
  }
  ldns_pkt_push_rr(reply, LDNS_SECTION_AUTHORITY, rr.release());
}

// Pushes `records` into the answer section; false if one cannot be encoded.
bool push_answers(const std::vector<world::Record>& records, const ldns_rdf* owner_case,
                  ldns_pkt* reply) {
  for (const auto& r : records) {
    std::string error;
    RrPtr rr = detail::rr_from_record(r, &error);
    if (!rr) return false;
    if (owner_case != nullptr) {
      // Echo the question's spelling of the owner (resolvers using 0x20 case randomisation
      // compare it).
      ldns_rdf_deep_free(ldns_rr_owner(rr.get()));
      ldns_rr_set_owner(rr.get(), ldns_rdf_clone(owner_case));
    }
    ldns_pkt_push_rr(reply, LDNS_SECTION_ANSWER, rr.release());
  }
  return true;
}

// Fills the answer/authority sections for an in-world question and returns the RCODE.
Rcode answer_question(const world::World& world, const std::string& qname, std::uint16_t qtype,
                      const ldns_rdf* question_owner, ldns_pkt* reply) {
  std::string current = qname;
  for (int hop = 0; hop <= kMaxCnameChain; ++hop) {
    const ldns_rdf* owner_case = hop == 0 ? question_owner : nullptr;
    if (hop > 0) {
      // RFC 1034 §4.3.2 step 3a restarts at the target; we stop where we are no longer
      // the authority, or where the target is faulted, and let the client ask for it.
      if (!world.zone_for(current) || world.fault_for(current, static_cast<RrType>(qtype)))
        return Rcode::noerror;
    }
    std::vector<world::Record> found =
        qtype == kTypeAny ? world.find(current)
                          : world.find(current, static_cast<RrType>(qtype));
    if (!found.empty()) {
      return push_answers(found, owner_case, reply) ? Rcode::noerror : Rcode::servfail;
    }
    auto alias = world.find(current, RrType::CNAME);
    if (alias.empty()) {
      add_negative_soa(world, current, reply);
      return world.name_exists(current) ? Rcode::noerror : Rcode::nxdomain;
    }
    if (!push_answers({alias.front()}, owner_case, reply)) return Rcode::servfail;
    current = alias.front().value;
  }
  // A loop: what we have, NOERROR; the client's own hop limit turns it into SERVFAIL.
  return Rcode::noerror;
}

}  // namespace

WireResult handle_wire_query(const world::World& world, std::span<const std::uint8_t> query,
                             Transport transport) {
  WireResult result;
  if (query.size() < kDnsHeaderSize || query.size() > kMaxQuerySize) return result;  // drop
  if (query[2] & 0x80) return result;  // QR=1: a response, never answer it (no loops)

  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, query.data(), query.size()) != LDNS_STATUS_OK || raw == nullptr) {
    result.rcode = Rcode::formerr;
    result.response = header_only_reply(query, Rcode::formerr);
    return result;
  }
  PktPtr q(raw);
  if (ldns_pkt_get_opcode(q.get()) != LDNS_PACKET_QUERY) {
    result.rcode = Rcode::notimp;
    result.response = header_only_reply(query, Rcode::notimp);
    return result;
  }
  // RFC 9619: a query carries exactly one question.
  if (ldns_pkt_qdcount(q.get()) != 1 || ldns_rr_list_rr_count(ldns_pkt_question(q.get())) != 1) {
    result.rcode = Rcode::formerr;
    result.response = header_only_reply(query, Rcode::formerr);
    return result;
  }
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(q.get()), 0);
  // Label by label, not via presentation text: a name with spaces or other specials must
  // match the world's spelling byte for byte (see ldns_util.hpp).
  result.qname = world::canonical_name(detail::name_from_dname(ldns_rr_owner(question)));
  result.qtype = static_cast<std::uint16_t>(ldns_rr_get_type(question));
  auto qclass = static_cast<std::uint16_t>(ldns_rr_get_class(question));

  PktPtr reply(ldns_pkt_new());
  ldns_pkt_set_id(reply.get(), ldns_pkt_id(q.get()));
  ldns_pkt_set_qr(reply.get(), true);
  ldns_pkt_set_opcode(reply.get(), LDNS_PACKET_QUERY);
  ldns_pkt_set_rd(reply.get(), ldns_pkt_rd(q.get()));
  ldns_pkt_set_cd(reply.get(), ldns_pkt_cd(q.get()));
  ldns_pkt_set_ra(reply.get(), false);  // we never recurse
  ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(question));

  // EDNS(0), RFC 6891 §6.2.3–6.2.5: the requestor's UDP size, at least 512.
  bool edns = ldns_pkt_edns(q.get());
  std::size_t udp_limit = kClassicUdpSize;
  if (edns) {
    udp_limit = std::clamp<std::size_t>(ldns_pkt_edns_udp_size(q.get()), kClassicUdpSize,
                                        kMaxUdpPayload);
    ldns_pkt_set_edns_udp_size(reply.get(), static_cast<std::uint16_t>(kMaxUdpPayload));
  }

  auto finish = [&](Rcode rcode, bool aa) {
    result.rcode = rcode;
    ldns_pkt_set_aa(reply.get(), aa);
    auto code = static_cast<std::uint16_t>(rcode);
    ldns_pkt_set_rcode(reply.get(), static_cast<std::uint8_t>(code & 0x0f));
    if (edns) ldns_pkt_set_edns_extended_rcode(reply.get(), static_cast<std::uint8_t>(code >> 4));
    std::vector<std::uint8_t> wire = to_wire(reply.get());
    if (transport == Transport::udp && wire.size() > udp_limit) {
      // RFC 2181 §9 / RFC 7766 §5: too big for this datagram → TC=1, let TCP carry it.
      ldns_rr_list_deep_free(ldns_pkt_answer(reply.get()));
      ldns_pkt_set_answer(reply.get(), ldns_rr_list_new());
      ldns_rr_list_deep_free(ldns_pkt_authority(reply.get()));
      ldns_pkt_set_authority(reply.get(), ldns_rr_list_new());
      ldns_pkt_set_ancount(reply.get(), 0);
      ldns_pkt_set_nscount(reply.get(), 0);
      ldns_pkt_set_tc(reply.get(), true);
      result.truncated = true;
      wire = to_wire(reply.get());
    }
    if (wire.empty()) {  // ldns could not encode it: a server failure, said so
      result.rcode = Rcode::servfail;
      result.response = header_only_reply(query, Rcode::servfail);
      return;
    }
    result.response = std::move(wire);
  };

  if (edns && ldns_pkt_edns_version(q.get()) > 0) {
    finish(Rcode::badvers, false);  // RFC 6891 §6.1.3: we speak version 0 only
    return result;
  }
  if (qclass != kClassIn && qclass != kClassAny) {
    finish(Rcode::refused, false);  // the world is all class IN
    return result;
  }
  if (!world.zone_for(result.qname)) {
    finish(Rcode::refused, false);  // outside the sealed world: see the header
    return result;
  }
  if (result.qtype == kTypeAxfr || result.qtype == kTypeIxfr) {
    finish(Rcode::refused, true);  // no zone transfers out of the simulator
    return result;
  }
  if (auto fault = world.fault_for(result.qname, static_cast<RrType>(result.qtype))) {
    switch (*fault) {
      case world::DnsFaultKind::timeout:
        result.rcode = Rcode::noerror;
        return result;  // dropped: the client sees a timeout
      case world::DnsFaultKind::servfail: finish(Rcode::servfail, false); return result;
      case world::DnsFaultKind::refused: finish(Rcode::refused, false); return result;
      case world::DnsFaultKind::truncate:
        if (transport == Transport::udp) {
          ldns_pkt_set_tc(reply.get(), true);
          result.truncated = true;
          finish(Rcode::noerror, true);
          return result;
        }
        break;  // over TCP the full answer
    }
  }
  Rcode rcode = answer_question(world, result.qname, result.qtype, ldns_rr_owner(question),
                                reply.get());
  finish(rcode, rcode != Rcode::servfail);
  return result;
}

}  // namespace mailsim::dns
