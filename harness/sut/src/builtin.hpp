// The builtin SUT: a small reference MTA that behaves on the wire like the guide's poste.io.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/sut/sut.hpp"

namespace mailsim::sut {

std::unique_ptr<Sut> make_builtin_sut();

// poste.io-style DKIM selector ("s20260101042"): 's', the date of the simulated clock,
// three digits derived from the seed and domain — deterministic per run seed.
std::string builtin_selector(std::string_view domain, std::uint64_t seed, std::int64_t now);

// Retry schedule of the queue on the simulated clock: seconds to wait after try N (1-based)
// before try N+1. The size + 1 is the number of tries before the queue gives up.
const std::vector<std::int64_t>& builtin_retry_delays();

}  // namespace mailsim::sut
