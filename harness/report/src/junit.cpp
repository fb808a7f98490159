#include "mailsim/report/junit.hpp"

#include <fmt/format.h>

#include "mailsim/report/text.hpp"

namespace mailsim::report {

namespace {

// Length of a valid UTF-8 sequence starting at s[i], or 0 (RFC 3629 §4).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(1) > 0x9f) return 0;  // surrogates
    if (c == 0xef && b(1) == 0xbf && (b(2) == 0xbe || b(2) == 0xbf)) return 0;  // U+FFFE/F
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;
    if (c == 0xf4 && b(1) > 0x8f) return 0;
    return 4;
  }
  return 0;
}

std::string attr(std::string_view name, std::string_view value) {
  return fmt::format(" {}=\"{}\"", name, xml_escape(value));
}

std::string seconds(double ms) { return fmt::format("{:.3f}", ms / 1000.0); }

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    switch (c) {
      case '&': out += "&amp;"; ++i; continue;
      case '<': out += "&lt;"; ++i; continue;
      case '>': out += "&gt;"; ++i; continue;
      case '"': out += "&quot;"; ++i; continue;
      case '\'': out += "&apos;"; ++i; continue;
      default: break;
    }
    auto u = static_cast<unsigned char>(c);
    // XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-…]
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    std::size_t n = utf8_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string render_junit(const RunReport& report) {
  std::string body;
  int total_tests = 0, total_failures = 0, total_errors = 0;
  double total_ms = 0;
  for (const auto& s : report.scenarios) {
    std::string cases;
    int tests = 0, failures = 0, errors = 0;
    std::string classname = "mailsim." + s.name;
    if (!s.error.empty() || s.cancelled) {
      ++tests;
      ++errors;
      std::string message = s.cancelled ? "cancelled" : s.error;
      cases += fmt::format("    <testcase{}{}{}>\n      <error{}{}>{}</error>\n    </testcase>\n",
                           attr("name", "scenario"), attr("classname", classname),
                           attr("time", seconds(s.elapsed_ms)), attr("message", message),
                           attr("type", s.cancelled ? "cancelled" : "scenario-error"),
                           xml_escape(render_explain(s)));
    }
    for (const auto& o : s.outcomes) {
      ++tests;
      std::string name = fmt::format("{}/{}", score::to_string(o.direction), o.persona);
      auto checks = checks_for(s, o);
      std::string why;
      for (const auto* c : checks) {
        if (c->met) continue;
        why += (why.empty() ? "" : "; ") + c->why;
      }
      cases += fmt::format("    <testcase{}{}{}", attr("name", name), attr("classname", classname),
                           attr("time", "0"));
      if (why.empty()) {
        cases += fmt::format(">\n      <system-out>{}</system-out>\n    </testcase>\n",
                             xml_escape(render_outcome(o)));
      } else {
        ++failures;
        cases += fmt::format(">\n      <failure{}{}>{}</failure>\n    </testcase>\n",
                             attr("message", why), attr("type", "expectation"),
                             xml_escape(render_outcome(o)));
      }
    }
    // Expectations that no outcome answered (a persona filtered out, a probe missing).
    for (const auto& c : s.expectations) {
      bool has_outcome = false;
      for (const auto& o : s.outcomes) {
        has_outcome = has_outcome ||
                      (o.direction == c.expectation.direction && o.persona == c.persona);
      }
      if (has_outcome) continue;
      ++tests;
      ++failures;
      cases += fmt::format(
          "    <testcase{}{}{}>\n      <failure{}{}/>\n    </testcase>\n",
          attr("name", fmt::format("{}/{}", score::to_string(c.expectation.direction), c.persona)),
          attr("classname", classname), attr("time", "0"), attr("message", c.why),
          attr("type", "expectation"));
    }
    body += fmt::format("  <testsuite{}{}{}{}{}{}>\n{}  </testsuite>\n", attr("name", s.name),
                        attr("tests", std::to_string(tests)),
                        attr("failures", std::to_string(failures)),
                        attr("errors", std::to_string(errors)), attr("skipped", "0"),
                        attr("time", seconds(s.elapsed_ms)), cases);
    total_tests += tests;
    total_failures += failures;
    total_errors += errors;
    total_ms += s.elapsed_ms;
  }
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites{}{}{}{}{}>\n{}</testsuites>\n",
                     attr("name", "mailsim"), attr("tests", std::to_string(total_tests)),
                     attr("failures", std::to_string(total_failures)),
                     attr("errors", std::to_string(total_errors)), attr("time", seconds(total_ms)),
                     body);
}

}  // namespace mailsim::report
