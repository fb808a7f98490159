#include "mailsim/report/json.hpp"

namespace mailsim::report {

using nlohmann::ordered_json;

namespace {

ordered_json or_null(const std::string& s) { return s.empty() ? ordered_json(nullptr) : ordered_json(s); }

ordered_json reply_json(const smtp::Reply& r) {
  ordered_json j;
  j["code"] = r.code;
  j["enhanced"] = or_null(r.enhanced);
  j["lines"] = r.lines;
  j["text"] = score::reply_summary(r);
  return j;
}

ordered_json check_json(const score::ExpectationCheck& c) {
  ordered_json j;
  j["direction"] = std::string(score::to_string(c.expectation.direction));
  j["persona"] = c.persona;
  j["expected"] = c.expectation.expected;
  j["where"] = or_null(c.expectation.where);
  j["met"] = c.met;
  j["actual"] = c.actual;
  j["why"] = c.why;
  return j;
}

}  // namespace

ordered_json to_json(const score::Outcome& o) {
  ordered_json j;
  j["direction"] = std::string(score::to_string(o.direction));
  j["persona"] = o.persona;
  j["disposition"] = std::string(score::to_string(o.disposition));
  j["reply"] = o.reply ? reply_json(*o.reply) : ordered_json(nullptr);
  if (o.score) {
    ordered_json s;
    s["value"] = o.score->value;
    s["deductions"] = ordered_json::array();
    for (const auto& d : o.score->deductions) {
      s["deductions"].push_back(
          {{"rule", d.rule}, {"points", d.points}, {"description", d.description},
           {"source", d.source}});
    }
    j["score"] = std::move(s);
  } else {
    j["score"] = nullptr;
  }
  j["findings"] = ordered_json::array();
  for (const auto& f : o.findings) {
    j["findings"].push_back({{"kind", std::string(score::to_string(f.kind))},
                             {"check", f.check},
                             {"result", or_null(f.result)},
                             {"text", f.text},
                             {"reference", or_null(f.reference)}});
  }
  j["fix"] = o.fix ? ordered_json{{"id", o.fix->id}, {"text", o.fix->text},
                                  {"reference", o.fix->reference}}
                   : ordered_json(nullptr);
  j["authentication_results"] = or_null(o.authentication_results);
  j["transcript"] = o.transcript;
  return j;
}

ordered_json to_json(const RunReport& r) {
  ordered_json j;
  j["schema"] = kJsonSchema;
  j["mailsim"] = r.mailsim_version;
  j["seed"] = r.seed;
  j["sut"] = r.sut;
  j["personas"] = r.personas;
  j["shard"] = or_null(r.shard);
  j["passed"] = r.passed();
  j["cancelled"] = r.cancelled;
  std::size_t checks = 0;
  for (const auto& s : r.scenarios) checks += s.expectations.size();
  j["summary"] = {{"scenarios", r.scenarios.size()},
                  {"failed", r.failed_scenarios()},
                  {"expectations", checks},
                  {"unmet", r.unmet()}};
  j["scenarios"] = ordered_json::array();
  for (const auto& s : r.scenarios) {
    ordered_json js;
    js["name"] = s.name;
    js["file"] = or_null(s.file);
    js["teaches"] = or_null(s.teaches);
    js["passed"] = s.passed();
    js["error"] = or_null(s.error);
    js["cancelled"] = s.cancelled;
    js["elapsed_ms"] = s.elapsed_ms;
    js["outcomes"] = ordered_json::array();
    for (const auto& o : s.outcomes) js["outcomes"].push_back(to_json(o));
    js["expectations"] = ordered_json::array();
    for (const auto& c : s.expectations) js["expectations"].push_back(check_json(c));
    j["scenarios"].push_back(std::move(js));
  }
  return j;
}

std::string render_json(const RunReport& report) {
  // error_handler::replace: a stray invalid UTF-8 byte in a transcript must not abort the
  // whole report; it becomes U+FFFD.
  return to_json(report).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

}  // namespace mailsim::report
