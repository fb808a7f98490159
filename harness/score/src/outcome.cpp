#include "mailsim/score/outcome.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

namespace mailsim::score {

namespace {
constexpr std::array<std::pair<Disposition, std::string_view>, 6> kDispositions{{
    {Disposition::inbox, "inbox"},
    {Disposition::spam, "spam"},
    {Disposition::rejected, "rejected"},
    {Disposition::deferred, "deferred"},
    {Disposition::unreachable, "unreachable"},
    {Disposition::not_sent, "not_sent"},
}};
}  // namespace

std::string_view to_string(Disposition disposition) {
  for (const auto& [d, name] : kDispositions) {
    if (d == disposition) return name;
  }
  return "unknown";
}

std::optional<Disposition> disposition_from_string(std::string_view name) {
  for (const auto& [d, n] : kDispositions) {
    if (n == name) return d;
  }
  return std::nullopt;
}

const std::vector<std::string>& disposition_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : kDispositions) out.emplace_back(entry.second);
    return out;
  }();
  return names;
}

std::string_view to_string(Direction direction) {
  return direction == Direction::outbound ? "outbound" : "inbound";
}

std::optional<Direction> direction_from_string(std::string_view name) {
  if (name == "outbound") return Direction::outbound;
  if (name == "inbound") return Direction::inbound;
  return std::nullopt;
}

MailtesterScore make_mailtester_score(std::vector<Deduction> deductions) {
  MailtesterScore score;
  double total = 0;
  for (const auto& d : deductions) total += d.points;
  // mail-tester shows one decimal; round here so every report prints the same figure.
  double value = std::clamp(10.0 - total, 0.0, 10.0);
  score.value = std::round(value * 10.0) / 10.0;
  score.deductions = std::move(deductions);
  return score;
}

std::string_view to_string(FindingKind kind) {
  switch (kind) {
    case FindingKind::fact: return "fact";
    case FindingKind::check: return "check";
    case FindingKind::verdict: return "verdict";
    case FindingKind::fix: return "fix";
  }
  return "fact";
}

std::string reply_summary(const smtp::Reply& reply) {
  std::string out = std::to_string(reply.code);
  if (!reply.enhanced.empty()) out += " " + reply.enhanced;
  for (const auto& line : reply.lines) {
    if (!line.empty()) out += " " + line;
  }
  return out;
}

std::string format_score(double value) {
  // fmt's formatting is locale-independent by default: always "9.5", never "9,5".
  return fmt::format("{:.1f}", value);
}

}  // namespace mailsim::score
