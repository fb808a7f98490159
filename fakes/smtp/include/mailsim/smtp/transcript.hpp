// The record of one SMTP session, both directions, for reports (who said what, in order).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailsim::smtp {

enum class Speaker {
  client,  // a line the client sent ("C:")
  server,  // a line the server sent ("S:")
  note,    // what the engine observed: "TLS established TLSv1.3 …", "<message 812 bytes>"
};

struct TranscriptLine {
  Speaker who = Speaker::note;
  std::string text;  // one line, without its CRLF
  bool operator==(const TranscriptLine&) const = default;
};

class Transcript {
 public:
  // A session's transcript is bounded (a 10,000-RCPT flood must not grow it without limit):
  // past `max_lines`, lines are counted but dropped, and one note says so.
  explicit Transcript(std::size_t max_lines = 20000) : max_lines_(max_lines) {}

  void add(Speaker who, std::string text);
  // Adds each line of a multi-line wire text (CRLF- or LF-separated) as its own entry.
  void add_wire(Speaker who, std::string_view wire);
  const std::vector<TranscriptLine>& lines() const { return lines_; }
  std::vector<TranscriptLine> take_lines() { return std::move(lines_); }
  std::size_t dropped() const { return dropped_; }
  // "C: EHLO x\nS: 250-…\n…": the form reports and tests read.
  std::string str() const;

 private:
  std::size_t max_lines_;
  std::size_t dropped_ = 0;
  std::vector<TranscriptLine> lines_;
};

std::string_view to_string(Speaker who);  // "C", "S", "*"

}  // namespace mailsim::smtp
