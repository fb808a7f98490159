// From what the Runner collected to the report model: each probe scored (score::Evidence
// from the receiver's Delivery and the sender's attempt log), each expectation judged.
#pragma once

#include <string>
#include <vector>

#include "mailsim/report/model.hpp"
#include "mailsim/run/runner.hpp"
#include "mailsim/run/scenario.hpp"
#include "mailsim/score/scorer.hpp"

namespace mailsim::report {

// The scorer's evidence for one probe of a run of `scenario`.
score::Evidence evidence_from_probe(const run::Scenario& scenario, const run::RunResult& result,
                                    const run::ProbeResult& probe);

// The scenario's expectations as the scorer reads them, for the personas that ran
// (`personas` empty = all): `all` expands per outcome; a persona named explicitly but not
// probed stays, so its missing outcome shows as unmet.
std::vector<score::Expectation> expectations_for(const run::Scenario& scenario,
                                                 const std::vector<std::string>& personas);

// One scenario's report: outcomes scored, expectations judged, errors and logs carried.
ScenarioReport build_scenario_report(const run::Scenario& scenario, const run::RunResult& result,
                                     const std::vector<std::string>& personas = {});

}  // namespace mailsim::report
