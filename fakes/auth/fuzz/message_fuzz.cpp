// libFuzzer target: Message::parse never throws, never reads out of bounds, and keeps its
// invariants on any input; the pure checks over a message (content, From domain) too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mailsim/auth/content.hpp"
#include "mailsim/auth/facts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto message = mailsim::auth::Message::parse(text);
  // Invariant: after LF→CRLF, every LF is preceded by CR (RFC 5321 §2.3.8).
  for (std::size_t i = 0; i < message.raw.size(); ++i)
    if (message.raw[i] == '\n' && (i == 0 || message.raw[i - 1] != '\r')) std::abort();
  // Invariant: the body is a suffix of raw, and each header's raw starts with its name.
  if (message.body.size() > message.raw.size() ||
      message.raw.compare(message.raw.size() - message.body.size(), message.body.size(),
                          message.body) != 0)
    std::abort();
  for (const auto& h : message.headers) {
    if (h.raw.compare(0, h.name.size(), h.name) != 0) std::abort();
    if (message.find(h.name) == nullptr) std::abort();
  }
  std::string domain = message.from_domain();
  for (char c : domain)
    if (c >= 'A' && c <= 'Z') std::abort();  // lowercase by contract
  auto content = mailsim::auth::check_content(message);
  if (content.from_count != static_cast<int>(message.find_all("From").size())) std::abort();
  return 0;
}
