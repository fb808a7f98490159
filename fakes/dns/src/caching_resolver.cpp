// CachingResolver: answers kept for their TTL in front of another resolver (resolver.hpp).
#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>

#include "mailsim/dns/resolver.hpp"

namespace mailsim::dns {

namespace {

using Clock = std::chrono::steady_clock;

// How long `answer` may be kept, in seconds; 0 = not at all.
std::uint32_t keep_for(const Answer& answer) {
  switch (answer.status) {
    case DnsStatus::ok: {
      if (answer.records.empty()) return 0;
      std::uint32_t ttl = answer.records.front().ttl;
      for (const auto& r : answer.records) ttl = std::min(ttl, r.ttl);
      return ttl;
    }
    case DnsStatus::nxdomain:
    case DnsStatus::nodata:
      return answer.negative_ttl.value_or(0);
    default:
      // SERVFAIL/timeout are temporary and REFUSED/FORMERR say nothing about the name; a
      // fault in the world must reach every lookup, so none of them is kept. (RFC 2308 §7
      // allows keeping SERVFAIL up to five minutes; a simulator that hid faults would lie.)
      return 0;
  }
}

}  // namespace

struct CachingResolver::Impl {
  struct Entry {
    Answer answer;
    Clock::time_point expires;
    std::list<std::string>::iterator order;  // position in `oldest_first`
  };

  Impl(Resolver& r, CacheOptions o) : inner(r), options(std::move(o)) {
    if (!options.clock) options.clock = [] { return Clock::now(); };
  }

  Resolver& inner;
  CacheOptions options;
  mutable std::mutex mutex;
  std::unordered_map<std::string, Entry> entries;
  std::list<std::string> oldest_first;  // insertion order, for the size bound
  std::uint64_t hits = 0, misses = 0;

  static std::string key(std::string_view name, RrType type) {
    std::string k = world::canonical_name(name);
    k += '/';
    k += std::to_string(static_cast<int>(type));
    return k;
  }

  void erase(std::unordered_map<std::string, Entry>::iterator it) {
    oldest_first.erase(it->second.order);
    entries.erase(it);
  }

  void store(std::string k, const Answer& answer, Clock::time_point now) {
    const auto ttl = std::min<std::chrono::seconds>(std::chrono::seconds(keep_for(answer)),
                                                    options.max_ttl);
    if (ttl.count() <= 0 || options.max_entries == 0) return;
    std::lock_guard lock(mutex);
    if (auto it = entries.find(k); it != entries.end()) erase(it);
    if (entries.size() >= options.max_entries) {
      // Expired entries first; then the oldest, so the bound holds whatever the TTLs.
      for (auto it = entries.begin(); it != entries.end();) {
        if (it->second.expires <= now) {
          oldest_first.erase(it->second.order);
          it = entries.erase(it);
        } else {
          ++it;
        }
      }
      while (entries.size() >= options.max_entries) erase(entries.find(oldest_first.front()));
    }
    oldest_first.push_back(k);
    auto order = std::prev(oldest_first.end());
    entries.emplace(std::move(k), Entry{answer, now + ttl, order});
  }
};

CachingResolver::CachingResolver(Resolver& inner, CacheOptions options)
    : impl_(std::make_unique<Impl>(inner, std::move(options))) {}

CachingResolver::~CachingResolver() = default;

Answer CachingResolver::query(std::string_view name, RrType type) {
  if (impl_->options.max_ttl.count() <= 0) return impl_->inner.query(name, type);
  std::string k = Impl::key(name, type);
  const auto now = impl_->options.clock();
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->entries.find(k); it != impl_->entries.end()) {
      if (it->second.expires > now) {
        ++impl_->hits;
        return it->second.answer;
      }
      impl_->erase(it);
    }
    ++impl_->misses;
  }
  // Asked outside the lock: a slow lookup must not hold up the other threads' hits. Two
  // threads missing the same name at once both ask; the later answer is kept.
  Answer answer = impl_->inner.query(name, type);
  impl_->store(std::move(k), answer, now);
  return answer;
}

CachingResolver::Stats CachingResolver::stats() const {
  std::lock_guard lock(impl_->mutex);
  return {impl_->hits, impl_->misses, impl_->entries.size()};
}

}  // namespace mailsim::dns
