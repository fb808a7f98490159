#include "mailsim/report/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>
#include <unistd.h>

namespace mailsim::report {

namespace {

constexpr const char* kReset = "\x1b[0m";
constexpr const char* kRed = "\x1b[31m";
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kDim = "\x1b[2m";

std::string paint(const TextOptions& o, const char* code, const std::string& text) {
  if (!o.color || text.empty()) return text;
  return std::string(code) + text + kReset;
}

const char* color_of(score::Disposition d) {
  switch (d) {
    case score::Disposition::inbox: return kGreen;
    case score::Disposition::spam:
    case score::Disposition::deferred: return kYellow;
    case score::Disposition::rejected:
    case score::Disposition::unreachable: return kRed;
    case score::Disposition::not_sent: return kDim;
  }
  return kDim;
}

std::string pad(const std::string& text, std::size_t width) {
  std::size_t w = display_width(text);
  return w >= width ? text : text + std::string(width - w, ' ');
}

std::string cell_text(const Cell& c, const TextOptions& o) {
  if (c.met) return c.present ? paint(o, color_of(c.disposition), c.text) : c.text;
  return paint(o, kRed, fmt::format("✗ {} (want {})", c.text, c.expected));
}

// "-1.186", "+0.1", "-0.001": the effect on the /10 mark, as precise as the rule set gives it.
std::string format_points(double effect) {
  std::string s = fmt::format("{:+.3f}", effect);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string arrow(const score::Outcome& outcome) {
  return outcome.direction == score::Direction::outbound
             ? fmt::format("outbound → {}", outcome.persona)
             : fmt::format("inbound ← {}", outcome.persona);
}

}  // namespace

std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b) {  // CSI … final byte in 0x40–0x7e
      ++i;
      if (i < text.size() && text[i] == '[') {
        while (++i < text.size() && !(text[i] >= 0x40 && text[i] <= 0x7e)) {
        }
      }
      continue;
    }
    if ((c & 0xc0) != 0x80) ++width;  // count lead bytes, not continuation bytes
  }
  return width;
}

bool color_wanted(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  return isatty(fd) == 1;
}

std::string render_table(const RunReport& report, const TextOptions& options) {
  auto cols = columns(report);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header{"scenario"};
  for (const auto& c : cols) header.push_back(c.title());
  std::vector<std::size_t> widths;
  for (const auto& h : header) widths.push_back(display_width(h));
  std::vector<std::string> errors;
  for (const auto& s : report.scenarios) {
    std::vector<std::string> row{s.passed() ? s.name : paint(options, kBold, s.name)};
    if (!s.error.empty() || s.cancelled) {
      row.push_back(paint(options, kRed, s.cancelled ? "✗ cancelled" : "✗ error: " + s.error));
    } else {
      for (const auto& c : cols) row.push_back(cell_text(cell(s, c), options));
    }
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      // An error message spans the row; it does not widen the first persona column.
      if (!s.error.empty() && i == 1) continue;
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
    rows.push_back(std::move(row));
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      bool last = i + 1 == row.size();
      line += last ? row[i] : pad(row[i], widths[i]) + "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  emit(header);
  for (const auto& r : rows) emit(r);
  int failed = report.failed_scenarios();
  std::size_t total_checks = 0;
  for (const auto& s : report.scenarios) total_checks += s.expectations.size();
  std::string summary;
  if (report.cancelled) {
    std::size_t ran = 0;
    for (const auto& s : report.scenarios) ran += s.cancelled ? 0 : 1;
    summary = fmt::format("cancelled: {} of {} scenario(s) ran to the end", ran,
                          report.scenarios.size());
  } else if (failed == 0) {
    summary = fmt::format("{} scenario(s), all {} expectation(s) met", report.scenarios.size(),
                          total_checks);
  } else {
    summary = fmt::format("{} of {} scenario(s) failed: {} of {} expectation(s) unmet", failed,
                          report.scenarios.size(), report.unmet(), total_checks);
  }
  out += "\n" + paint(options, failed == 0 && !report.cancelled ? kGreen : kRed, summary) + "\n";
  return out;
}

std::string render_outcome(const score::Outcome& o, const TextOptions& options) {
  std::string out = fmt::format("{}: {}\n", paint(options, kBold, arrow(o)),
                                paint(options, color_of(o.disposition),
                                      std::string(score::to_string(o.disposition))));
  if (o.reply) out += fmt::format("  reply: {}\n", score::reply_summary(*o.reply));
  std::vector<const score::Finding*> chain;
  for (const auto& f : o.findings) {
    if (f.kind != score::FindingKind::fix) chain.push_back(&f);
  }
  if (!chain.empty()) {
    out += "  why:\n";
    int n = 0;
    for (const auto* f : chain) {
      out += fmt::format("    {}. {}", ++n, f->text);
      if (!f->reference.empty()) out += paint(options, kDim, fmt::format("  [{}]", f->reference));
      out += "\n";
    }
  }
  if (o.fix) {
    out += fmt::format("  fix: {}", paint(options, kBold, o.fix->text));
    if (!o.fix->reference.empty()) {
      out += paint(options, kDim, fmt::format("  [{}]", o.fix->reference));
    }
    out += "\n";
  }
  if (o.score) {
    out += fmt::format("  mailtester score: {}/10\n", score::format_score(o.score->value));
    for (const auto& d : o.score->deductions) {
      out += fmt::format("    {:>6}  {}", format_points(-d.points), d.rule);
      if (!d.description.empty()) out += "  " + d.description;
      if (!d.source.empty()) out += paint(options, kDim, "  (" + d.source + ")");
      out += "\n";
    }
  }
  if (!o.authentication_results.empty()) {
    // The receiver may hand over the whole field or only its value (RFC 8601 §2.2).
    std::string_view ar = o.authentication_results;
    constexpr std::string_view kName = "Authentication-Results:";
    if (ar.size() >= kName.size() &&
        std::equal(kName.begin(), kName.end(), ar.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      ar.remove_prefix(kName.size());
      while (!ar.empty() && ar.front() == ' ') ar.remove_prefix(1);
    }
    out += fmt::format("  Authentication-Results: {}\n", ar);
  }
  if (!o.transcript.empty()) {
    out += "  transcript:\n";
    for (const auto& line : o.transcript) out += "    " + line + "\n";
  }
  return out;
}

std::string render_explain(const ScenarioReport& s, const TextOptions& options) {
  std::string status =
      s.cancelled        ? "CANCELLED"
      : !s.error.empty() ? "ERROR"
      : s.passed()       ? "PASSED"
                         : fmt::format("FAILED ({} of {} expectations unmet)", s.unmet(),
                                       s.expectations.size());
  std::string out = fmt::format("{} — {}\n", paint(options, kBold, s.name),
                                paint(options, s.passed() ? kGreen : kRed, status));
  if (!s.teaches.empty()) out += "  " + s.teaches + "\n";
  if (!s.file.empty()) out += "  file: " + s.file + "\n";
  if (!s.error.empty()) out += "  error: " + s.error + "\n";
  for (const auto& o : s.outcomes) out += "\n" + render_outcome(o, options);
  if (!s.expectations.empty()) {
    out += "\nexpectations:\n";
    for (const auto& c : s.expectations) {
      out += fmt::format("  {} {}", c.met ? paint(options, kGreen, "✓") : paint(options, kRed, "✗"),
                         c.why);
      if (!c.expectation.where.empty()) out += paint(options, kDim, "  (" + c.expectation.where + ")");
      out += "\n";
    }
  }
  if (!s.logs.empty()) {
    out += "\nlog:\n";
    for (const auto& l : s.logs) out += "  " + l + "\n";
  }
  return out;
}

}  // namespace mailsim::report
