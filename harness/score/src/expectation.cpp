#include "mailsim/score/expectation.hpp"

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
      "a disposition ({}), alternatives \"inbox|spam\", a negation \"not inbox\", or a "
      "mailtester score bound \"<= 6\", \">= 9.5\" (operators <=, <, >=, >, ==)",
      names);
}

std::string describe_actual(const Outcome& o) {
  std::string out(to_string(o.disposition));
  if (o.score) out += " " + format_score(o.score->value);
  return out;
}

}  // namespace

ExpectedValue parse_expected(const std::string& text) {
  std::string s = trim(text);
  ExpectedValue v;
  for (const char* op : {"<=", ">=", "==", "<", ">"}) {
    if (s.rfind(op, 0) == 0) {
      v.kind = ExpectedValue::Kind::score_bound;
      v.op = op;
      std::string number = trim(std::string_view(s).substr(v.op.size()));
      const char* first = number.data();
      const char* last = first + number.size();
      auto [ptr, ec] = std::from_chars(first, last, v.bound);
      if (number.empty() || ec != std::errc() || ptr != last || v.bound < 0 || v.bound > 10) {
        throw std::invalid_argument(fmt::format(
            "expected value \"{}\": \"{}\" is not a score between 0 and 10; use {}", text,
            number, valid_forms()));
      }
      return v;
    }
  }
  if (s.rfind("not ", 0) == 0) {
    v.negated = true;
    s = trim(std::string_view(s).substr(4));
  }
  std::string_view rest = s;
  while (true) {
    auto bar = rest.find('|');
    std::string name = trim(rest.substr(0, bar));
    auto d = disposition_from_string(name);
    if (!d) {
      throw std::invalid_argument(fmt::format("expected value \"{}\": unknown \"{}\"; use {}",
                                              text, name, valid_forms()));
    }
    v.any_of.push_back(*d);
    if (bar == std::string_view::npos) break;
    rest = rest.substr(bar + 1);
  }
  return v;
}

ExpectationCheck evaluate(const Expectation& expectation, const Outcome& outcome) {
  ExpectationCheck check;
  check.expectation = expectation;
  check.persona = outcome.persona;
  check.actual = describe_actual(outcome);
  ExpectedValue v = parse_expected(expectation.expected);
  std::string who = fmt::format("{} {}", outcome.persona, to_string(outcome.direction));
  std::string reason;
  if (outcome.reply) reason = " (" + reply_summary(*outcome.reply) + ")";
  else if (!outcome.findings.empty()) {
    for (const auto& f : outcome.findings) {
      if (f.kind == FindingKind::check) {
        reason = " (" + f.text + ")";
        break;
      }
    }
  }
  if (v.kind == ExpectedValue::Kind::score_bound) {
    if (!outcome.score) {
      check.met = false;
      check.why = fmt::format("{}: expected score {} {}, but there is no score: the message "
                              "was {}{}",
                              who, v.op, format_score(v.bound), to_string(outcome.disposition),
                              reason);
      return check;
    }
    double s = outcome.score->value;
    if (v.op == "<=") check.met = s <= v.bound;
    else if (v.op == "<") check.met = s < v.bound;
    else if (v.op == ">=") check.met = s >= v.bound;
    else if (v.op == ">") check.met = s > v.bound;
    else check.met = s == v.bound;
    std::string deductions;
    for (const auto& d : outcome.score->deductions) {
      deductions += fmt::format("{}{} {:+.1f}", deductions.empty() ? "" : ", ", d.rule, -d.points);
    }
    check.why = fmt::format("{}: expected score {} {}, got {}{}", who, v.op, format_score(v.bound),
                            format_score(s), deductions.empty() ? "" : " (" + deductions + ")");
    return check;
  }
  bool in = false;
  for (auto d : v.any_of) in = in || d == outcome.disposition;
  check.met = v.negated ? !in : in;
  check.why = fmt::format("{}: expected {}, got {}{}", who, trim(expectation.expected),
                          to_string(outcome.disposition), reason);
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
