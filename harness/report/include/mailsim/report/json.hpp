// The JSON report, schema "mailsim.run/1" (docs/json-schema.md).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "mailsim/report/model.hpp"

namespace mailsim::report {

nlohmann::ordered_json to_json(const RunReport& report);
nlohmann::ordered_json to_json(const score::Outcome& outcome);
// Pretty-printed with 2-space indent and a final newline; keys in documented order.
std::string render_json(const RunReport& report);

}  // namespace mailsim::report
