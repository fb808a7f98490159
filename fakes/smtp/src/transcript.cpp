#include "mailsim/smtp/transcript.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace mailsim::smtp {

std::string_view to_string(Speaker who) {
  switch (who) {
    case Speaker::client: return "C";
    case Speaker::server: return "S";
    case Speaker::note: return "*";
  }
  return "?";
}

void Transcript::add(Speaker who, std::string text) {
  // A one-message session writes about twenty lines: room for them at the first, instead of
  // growing (and moving every line) four times on the way.
  if (lines_.empty()) lines_.reserve(std::min<std::size_t>(max_lines_, 32));
  if (lines_.size() + 1 >= max_lines_) {
    if (dropped_++ == 0) lines_.push_back({Speaker::note, "(transcript limit reached; later lines dropped)"});
    return;
  }
  lines_.push_back({who, std::move(text)});
}

void Transcript::add_wire(Speaker who, std::string_view wire) {
  while (!wire.empty()) {
    auto nl = wire.find('\n');
    std::string_view line = wire.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    add(who, std::string(line));
    if (nl == std::string_view::npos) break;
    wire.remove_prefix(nl + 1);
  }
}

std::string Transcript::str() const {
  std::string out;
  for (const auto& line : lines_) out += fmt::format("{}: {}\n", to_string(line.who), line.text);
  return out;
}

}  // namespace mailsim::smtp
