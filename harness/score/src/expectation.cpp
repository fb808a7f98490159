#include "mailsim/score/expectation.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace mailsim::score {

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::string valid_forms() {
  std::string names;
  for (const auto& n : disposition_names()) names += (names.empty() ? "" : ", ") + n;
  return fmt::format(
      "a disposition ({}), alternatives \"inbox|spam\", a negation \"not inbox\", an "
      "enhanced code after it \"rejected 5.7.25\", a mailtester score bound \"<= 6\", "
      "\">= 9.5\", \"10\" (operators <=, <, >=, >, ==), or parts joined by commas "
      "\"inbox, >= 9\"",
      names);
}

std::string describe_actual(const Outcome& o) {
  std::string out(to_string(o.disposition));
  if (o.score) out += " " + format_score(o.score->value);
  return out;
}

}  // namespace

ExpectedValue parse_expected(const std::string& text) {
  ExpectedValue v;
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(
        fmt::format("expected value \"{}\": {}; use {}", text, what, valid_forms()));
  };
  std::string_view all = text;
  bool any_part = false;
  while (true) {
    auto comma = all.find(',');
    std::string part = trim(all.substr(0, comma));
    if (part.empty()) fail("empty part");
    any_part = true;
    std::string op;
    for (const char* o : {"<=", ">=", "==", "<", ">"}) {
      if (part.rfind(o, 0) == 0) {
        op = o;
        break;
      }
    }
    bool numeric = part.find_first_not_of("0123456789.") == std::string::npos;
    if (numeric && std::count(part.begin(), part.end(), '.') == 2) {
      // A bare enhanced status code ("5.7.25"): the reply must carry it, any disposition.
      if (!v.enhanced_code.empty()) fail("two enhanced codes");
      v.enhanced_code = part;
    } else if (!op.empty() || numeric) {
      if (v.has_score) fail("two score bounds");
      v.has_score = true;
      v.op = op.empty() ? "==" : op;
      std::string number = trim(std::string_view(part).substr(op.size()));
      const char* first = number.data();
      const char* last = first + number.size();
      auto [ptr, ec] = std::from_chars(first, last, v.bound);
      if (number.empty() || ec != std::errc() || ptr != last || v.bound < 0 || v.bound > 10) {
        fail(fmt::format("\"{}\" is not a score between 0 and 10", number));
      }
    } else {
      if (!v.any_of.empty()) fail("two disposition parts");
      std::string rest = part;
      if (rest.rfind("not ", 0) == 0) {
        v.negated = true;
        rest = trim(std::string_view(rest).substr(4));
      }
      // An enhanced status code may follow: "rejected 5.7.25" (RFC 3463 class.subject.detail).
      auto space = rest.find(' ');
      if (space != std::string::npos) {
        v.enhanced_code = trim(std::string_view(rest).substr(space + 1));
        rest = rest.substr(0, space);
        static const char* kDigits = "0123456789";
        auto d1 = v.enhanced_code.find('.');
        auto d2 = d1 == std::string::npos ? d1 : v.enhanced_code.find('.', d1 + 1);
        if (d2 == std::string::npos || v.enhanced_code.find_first_not_of(".0123456789") !=
                                           std::string::npos ||
            v.enhanced_code.find_first_of(kDigits) != 0) {
          fail(fmt::format("\"{}\" is not an enhanced status code like 5.7.25",
                           v.enhanced_code));
        }
      }
      std::string_view names = rest;
      while (true) {
        auto bar = names.find('|');
        std::string name = trim(names.substr(0, bar));
        auto d = disposition_from_string(name);
        if (!d) fail(fmt::format("unknown \"{}\"", name));
        v.any_of.push_back(*d);
        if (bar == std::string_view::npos) break;
        names = names.substr(bar + 1);
      }
    }
    if (comma == std::string_view::npos) break;
    all = all.substr(comma + 1);
  }
  if (!any_part) fail("nothing expected");
  return v;
}

ExpectationCheck evaluate(const Expectation& expectation, const Outcome& outcome) {
  ExpectationCheck check;
  check.expectation = expectation;
  check.persona = outcome.persona;
  check.actual = describe_actual(outcome);
  ExpectedValue v = parse_expected(expectation.expected);
  std::string who = fmt::format("{} {}", outcome.persona, to_string(outcome.direction));
  bool met = true;
  std::string got(to_string(outcome.disposition));
  if (!v.any_of.empty()) {
    bool in = false;
    for (auto d : v.any_of) in = in || d == outcome.disposition;
    met = met && (v.negated ? !in : in);
  }
  if (!v.enhanced_code.empty()) {
    std::string code = outcome.reply ? outcome.reply->enhanced : "";
    met = met && code == v.enhanced_code;
  }
  std::string score_note;
  if (v.has_score) {
    if (!outcome.score) {
      met = false;
      score_note = "no score";
    } else {
      double s = outcome.score->value;
      bool ok = v.op == "<=" ? s <= v.bound
                : v.op == "<" ? s < v.bound
                : v.op == ">=" ? s >= v.bound
                : v.op == ">" ? s > v.bound
                              : s == v.bound;
      met = met && ok;
      std::string deductions;
      for (const auto& d : outcome.score->deductions) {
        if (!deductions.empty()) deductions += ", ";
        deductions += fmt::format("{} {:+.1f}", d.rule, -d.points);
      }
      score_note = fmt::format("score {}{}", format_score(s),
                               deductions.empty() ? "" : fmt::format(" ({})", deductions));
    }
  }
  check.met = met;
  std::string reason;
  if (outcome.reply) {
    reason = fmt::format(" ({})", reply_summary(*outcome.reply));
  } else {
    for (const auto& f : outcome.findings) {
      if (f.kind == FindingKind::check) {
        reason = fmt::format(" ({})", f.text);
        break;
      }
    }
  }
  std::string expected = trim(expectation.expected);
  if (v.has_score && v.any_of.empty()) {
    expected = fmt::format("score {} {}", v.op, format_score(v.bound));
  }
  if (score_note == "no score") {
    check.why = fmt::format("{}: expected {}, but there is no score: the message was {}{}", who,
                            expected, got, reason);
  } else if (!score_note.empty() && v.any_of.empty()) {
    check.why = fmt::format("{}: expected {}, got {}", who, expected,
                            score_note.substr(6));
  } else {
    check.why = fmt::format("{}: expected {}, got {}{}{}", who, expected, got,
                            score_note.empty() ? "" : ", " + score_note, reason);
  }
  return check;
}

std::vector<ExpectationCheck> evaluate_all(const std::vector<Expectation>& expectations,
                                           const std::vector<Outcome>& outcomes) {
  std::vector<ExpectationCheck> out;
  for (const auto& e : expectations) {
    bool any = false;
    for (const auto& o : outcomes) {
      if (o.direction != e.direction) continue;
      if (e.persona != "all" && e.persona != o.persona) continue;
      any = true;
      out.push_back(evaluate(e, o));
    }
    if (!any) {
      parse_expected(e.expected);  // a malformed value is an error even with nothing to judge
      ExpectationCheck missing;
      missing.expectation = e;
      missing.persona = e.persona;
      missing.actual = "no outcome";
      missing.why = fmt::format("{} {}: expected {}, but no probe of this persona and "
                                "direction ran (check --persona)",
                                e.persona, to_string(e.direction), e.expected);
      out.push_back(std::move(missing));
    }
  }
  return out;
}

}  // namespace mailsim::score
