// The wire Resolver: how every actor of a run reaches the FakeDnsServer. Plain POSIX
// sockets with poll() deadlines: a synchronous lookup (checks call it synchronously) needs
// no event loop, and one socket per query makes it thread-safe.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <stdexcept>

#include <fmt/core.h>

#include "ldns_util.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/dns/server.hpp"
#include "mailsim/dns/wire.hpp"

namespace mailsim::dns {

namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Endpoint {
  sockaddr_storage storage{};
  socklen_t size = 0;
  int family = AF_INET;
};

Endpoint make_endpoint(const std::string& address, std::uint16_t port) {
  Endpoint e;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&e.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    e.size = sizeof(sockaddr_in);
    e.family = AF_INET;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    e.size = sizeof(sockaddr_in6);
    e.family = AF_INET6;
  } else {
    throw std::invalid_argument(fmt::format("'{}' is not an IP address", address));
  }
  return e;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ms = remaining_ms(deadline);
    if (ms == 0) return false;
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::uint16_t random_id() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<std::uint16_t>(rng());
}

enum class Outcome { ok, timeout, error };

// One exchange over UDP: send, then wait for a datagram with our ID (others are ignored,
// RFC 5452 §4.3).
Outcome exchange_udp(const Endpoint& server, const std::vector<std::uint8_t>& query,
                     std::uint16_t id, Clock::time_point deadline,
                     std::vector<std::uint8_t>& reply) {
  Fd fd(::socket(server.family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Outcome::error;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&server.storage), server.size) != 0)
    return Outcome::error;
  if (::send(fd.get(), query.data(), query.size(), 0) != static_cast<ssize_t>(query.size()))
    return Outcome::error;
  reply.resize(65535);
  while (wait_for(fd.get(), POLLIN, deadline)) {
    ssize_t n = ::recv(fd.get(), reply.data(), reply.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Outcome::error;  // e.g. ECONNREFUSED: nothing listens there
    }
    if (static_cast<std::size_t>(n) < kDnsHeaderSize) continue;
    if (((reply[0] << 8) | reply[1]) != id) continue;
    reply.resize(static_cast<std::size_t>(n));
    return Outcome::ok;
  }
  return Outcome::timeout;
}

bool read_exact(int fd, std::uint8_t* data, std::size_t size, Clock::time_point deadline) {
  std::size_t got = 0;
  while (got < size) {
    if (!wait_for(fd, POLLIN, deadline)) return false;
    ssize_t n = ::recv(fd, data + got, size - got, 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// One exchange over TCP with the RFC 7766 §8 two-octet length prefix.
Outcome exchange_tcp(const Endpoint& server, const std::vector<std::uint8_t>& query,
                     Clock::time_point deadline, std::vector<std::uint8_t>& reply) {
  Fd fd(::socket(server.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Outcome::error;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&server.storage), server.size) != 0) {
    if (errno != EINPROGRESS) return Outcome::error;
    if (!wait_for(fd.get(), POLLOUT, deadline)) return Outcome::timeout;
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Outcome::error;
  }
  std::vector<std::uint8_t> framed;
  framed.push_back(static_cast<std::uint8_t>(query.size() >> 8));
  framed.push_back(static_cast<std::uint8_t>(query.size() & 0xff));
  framed.insert(framed.end(), query.begin(), query.end());
  std::size_t sent = 0;
  while (sent < framed.size()) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) return Outcome::timeout;
    ssize_t n = ::send(fd.get(), framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Outcome::error;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::uint8_t length[2];
  if (!read_exact(fd.get(), length, 2, deadline))
    return remaining_ms(deadline) == 0 ? Outcome::timeout : Outcome::error;
  std::size_t size = (std::size_t{length[0]} << 8) | length[1];
  reply.resize(size);
  if (!read_exact(fd.get(), reply.data(), size, deadline))
    return remaining_ms(deadline) == 0 ? Outcome::timeout : Outcome::error;
  return Outcome::ok;
}

class WireResolver final : public Resolver {
 public:
  WireResolver(std::string address, std::uint16_t port, std::chrono::milliseconds timeout)
      : endpoint_(make_endpoint(address, port)), timeout_(timeout) {}

  Answer query(std::string_view name, RrType type) override {
    Answer answer;
    std::string current = world::canonical_name(name);
    // Chains the server could not finish (the target is elsewhere or faulted) are followed
    // here, hop by hop, within the same limit as the in-process resolver.
    for (int hop = 0; hop <= kMaxCnameChain; ++hop) {
      Answer step = query_once(current, type);
      answer.truncated_udp |= step.truncated_udp;
      std::string next;
      bool chain_open = false;
      // Walk the answer's CNAME chain from `current`.
      std::string at = current;
      for (auto& r : step.records) {
        if (r.type == RrType::CNAME && type != RrType::CNAME && r.name == at) {
          at = r.value;
          chain_open = true;
        } else if (r.type == type) {
          chain_open = false;
        }
        answer.records.push_back(std::move(r));
      }
      answer.status = step.status;
      answer.negative_ttl = step.negative_ttl;
      // NOERROR with a chain that ends in a target the server did not answer, and no SOA
      // (which would have meant NODATA): ask for the target.
      if (step.status == DnsStatus::ok && chain_open && !step_had_soa_) {
        current = at;
        continue;
      }
      if (step.status == DnsStatus::ok && chain_open) answer.status = DnsStatus::nodata;
      return answer;
    }
    answer.status = DnsStatus::servfail;  // a CNAME loop
    return answer;
  }

 private:
  // One question to the server, UDP then TCP on TC=1.
  Answer query_once(const std::string& name, RrType type) {
    Answer answer;
    step_had_soa_ = false;
    // Built from labels (see ldns_util.hpp): ldns_str2rdf_dname would read the name as
    // presentation text and mangle spaces and backslashes.
    std::string name_error;
    detail::RdfPtr owner_rdf = detail::dname_from_name(name, &name_error);
    if (!owner_rdf) {
      answer.status = DnsStatus::formerr;  // not a name the wire can carry
      return answer;
    }
    ldns_rdf* owner = owner_rdf.release();
    // We talk to an authoritative server: no recursion wanted (RD=0).
    detail::PktPtr q(ldns_pkt_query_new(owner, static_cast<ldns_rr_type>(type),
                                        LDNS_RR_CLASS_IN, 0));
    std::uint16_t id = random_id();
    ldns_pkt_set_id(q.get(), id);
    std::uint8_t* data = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&data, q.get(), &size) != LDNS_STATUS_OK) {
      answer.status = DnsStatus::formerr;
      return answer;
    }
    std::vector<std::uint8_t> wire(data, data + size);
    free(data);  // NOLINT: ldns allocates with malloc

    std::vector<std::uint8_t> reply;
    Outcome outcome = exchange_udp(endpoint_, wire, id, Clock::now() + timeout_, reply);
    if (outcome != Outcome::ok) {
      answer.status = outcome == Outcome::timeout ? DnsStatus::timeout : DnsStatus::servfail;
      return answer;
    }
    if (reply.size() > 2 && (reply[2] & 0x02)) {  // TC=1 (RFC 1035 §4.1.1)
      answer.truncated_udp = true;
      outcome = exchange_tcp(endpoint_, wire, Clock::now() + timeout_, reply);
      if (outcome != Outcome::ok) {
        answer.status = outcome == Outcome::timeout ? DnsStatus::timeout : DnsStatus::servfail;
        return answer;
      }
    }
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, reply.data(), reply.size()) != LDNS_STATUS_OK) {
      answer.status = DnsStatus::formerr;
      return answer;
    }
    detail::PktPtr r(raw);
    switch (ldns_pkt_get_rcode(r.get())) {
      case LDNS_RCODE_NOERROR: answer.status = DnsStatus::ok; break;
      case LDNS_RCODE_NXDOMAIN: answer.status = DnsStatus::nxdomain; break;
      case LDNS_RCODE_REFUSED: answer.status = DnsStatus::refused; return answer;
      case LDNS_RCODE_FORMERR: answer.status = DnsStatus::formerr; return answer;
      default: answer.status = DnsStatus::servfail; return answer;
    }
    const ldns_rr_list* records = ldns_pkt_answer(r.get());
    bool has_type = false;
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(records); ++i) {
      std::string error;
      auto record = detail::record_from_rr(ldns_rr_list_rr(records, i), &error);
      if (!record) continue;  // a type the world does not model: not ours to report
      has_type |= record->type == type;
      answer.records.push_back(std::move(*record));
    }
    const ldns_rr_list* authority = ldns_pkt_authority(r.get());
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(authority); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(authority, i);
      if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA) continue;
      step_had_soa_ = true;
      // RFC 2308 §5: a negative answer lives for the lesser of the SOA's TTL and MINIMUM
      // (the SOA's seventh field).
      std::uint32_t ttl = ldns_rr_ttl(rr);
      if (ldns_rr_rd_count(rr) >= 7) ttl = std::min(ttl, ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)));
      answer.negative_ttl = ttl;
    }
    if (answer.status == DnsStatus::nxdomain) return answer;
    if (has_type) {
      answer.status = DnsStatus::ok;
    } else if (!answer.records.empty() && !step_had_soa_) {
      answer.status = DnsStatus::ok;  // an open CNAME chain; query() follows it
    } else {
      answer.status = DnsStatus::nodata;
    }
    return answer;
  }

  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  // Per query() call; query() runs on the caller's thread, so keep it thread-local in
  // spirit: each call sets it before reading it.
  static thread_local bool step_had_soa_;
};

thread_local bool WireResolver::step_had_soa_ = false;

}  // namespace

std::unique_ptr<Resolver> make_wire_resolver(std::string address, std::uint16_t port,
                                             std::chrono::milliseconds timeout) {
  // The world is sealed: the wire client never talks to a real resolver.
  if (!is_loopback_address(address))
    throw std::invalid_argument(fmt::format(
        "the wire resolver only queries loopback addresses (127.0.0.0/8, ::1), not '{}'",
        address));
  return std::make_unique<WireResolver>(std::move(address), port, timeout);
}

std::unique_ptr<Resolver> make_namespace_wire_resolver(std::string address, std::uint16_t port,
                                                       std::chrono::milliseconds timeout) {
  return std::make_unique<WireResolver>(std::move(address), port, timeout);
}

}  // namespace mailsim::dns
