#include "mailsim/report/from_run.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace mailsim::report {

namespace {

score::Direction direction_of(run::Direction d) {
  return d == run::Direction::outbound ? score::Direction::outbound : score::Direction::inbound;
}

bool contains(const std::string& haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                                    std::tolower(static_cast<unsigned char>(b)); });
  return it != haystack.end();
}

// Why a sender's attempt did not reach an SMTP verdict, in the scorer's vocabulary.
score::SenderFailure classify_connect(const sut::DeliveryAttempt& a) {
  if (a.address.empty()) {
    return contains(a.detail, "servfail") || contains(a.detail, "timeout") ||
                   contains(a.detail, "temporary")
               ? score::SenderFailure::dns_failure
               : score::SenderFailure::no_mx;
  }
  // A proxied (Cloudflare) address never speaks SMTP whatever the socket error says.
  if (!score::address_owner(a.address).empty()) return score::SenderFailure::proxy_no_smtp;
  if (contains(a.connect_error, "refused")) return score::SenderFailure::connect_refused;
  return score::SenderFailure::connect_timeout;
}

void add_exchanges(score::Evidence& e, const sut::DeliveryAttempt& a) {
  for (const auto& x : a.transcript) {
    if (!x.command.empty() && x.command != "<connect>") e.transcript.push_back("C: " + x.command);
    if (x.reply.code != 0) e.transcript.push_back("S: " + score::reply_summary(x.reply));
  }
}

}  // namespace

score::Evidence evidence_from_probe(const run::Scenario& scenario, const run::RunResult& result,
                                    const run::ProbeResult& probe) {
  score::Evidence e;
  e.scenario = result.scenario;
  e.direction = direction_of(probe.direction);
  e.persona = probe.persona;
  e.domain = scenario.baseline.domain;
  e.sut_host = scenario.baseline.mx_label.empty()
                   ? scenario.baseline.domain
                   : scenario.baseline.mx_label + "." + scenario.baseline.domain;
  e.server_ip = scenario.baseline.server_ipv4;
  if (e.direction == score::Direction::outbound) e.client_ip = scenario.baseline.server_ipv4;

  if (!probe.error.empty()) {
    e.sender.failure = score::SenderFailure::not_submitted;
    e.sender.detail = probe.error;
    return e;
  }
  if (!probe.deliveries.empty()) score::add_delivery(e, probe.deliveries.back());

  if (!probe.attempts.empty()) {
    const auto& last = probe.attempts.back();
    e.sender.target_host = last.mx_host;
    e.sender.target_ip = last.address;
    e.sender.port = last.port;
    e.sender.attempts = static_cast<int>(probe.attempts.size());
    e.sender.detail = !last.connect_error.empty() ? last.connect_error : last.detail;
    if (!last.connected) {
      e.sender.failure = classify_connect(last);
    } else if (e.direction == score::Direction::inbound) {
      // Inbound: the SUT is the receiver; its replies are the verdict.
      e.received = last.final_reply.code != 0;
      if (e.received) e.final_reply = last.final_reply;
      switch (last.outcome) {
        case sut::AttemptOutcome::delivered:
          e.receiver_disposition = probe.stored.empty() ? "" : "inbox";
          break;
        case sut::AttemptOutcome::bounced: e.receiver_disposition = "rejected"; break;
        case sut::AttemptOutcome::deferred: e.receiver_disposition = "deferred"; break;
        case sut::AttemptOutcome::unreachable: e.receiver_disposition = ""; break;
      }
      if (!probe.stored.empty()) e.client_ip = probe.stored.back().client_ip;
      add_exchanges(e, last);
    } else if (probe.state == sut::SubmissionState::deferred ||
               probe.state == sut::SubmissionState::queued) {
      e.sender.failure = score::SenderFailure::deferred_after_retries;
    }
    if (e.transcript.empty()) add_exchanges(e, last);
  } else if (probe.deliveries.empty()) {
    e.sender.failure = score::SenderFailure::not_submitted;
    e.sender.detail = fmt::format("no delivery attempt was made (submission {})",
                                  sut::to_string(probe.state));
  }
  return e;
}

std::vector<score::Expectation> expectations_for(const run::Scenario& scenario,
                                                 const std::vector<std::string>& personas) {
  std::vector<score::Expectation> out;
  auto wanted = [&](const std::string& p) {
    return personas.empty() || std::find(personas.begin(), personas.end(), p) != personas.end();
  };
  auto add = [&](score::Direction d, const run::DirectionExpectations& de,
                 const std::vector<std::string>& probed) {
    for (const auto& p : probed.empty() ? run::all_personas() : probed) {
      if (!wanted(p)) continue;
      if (auto x = de.for_persona(p)) out.push_back({d, p, x->to_string(), scenario.source_file});
    }
    // Explicit entries for personas that are not probed at all.
    for (const auto& [p, x] : de.personas) {
      const auto& list = probed.empty() ? run::all_personas() : probed;
      if (wanted(p) && std::find(list.begin(), list.end(), p) == list.end()) {
        out.push_back({d, p, x.to_string(), scenario.source_file});
      }
    }
  };
  add(score::Direction::outbound, scenario.expect.outbound, scenario.probes.outbound);
  add(score::Direction::inbound, scenario.expect.inbound, scenario.probes.inbound);
  return out;
}

ScenarioReport build_scenario_report(const run::Scenario& scenario, const run::RunResult& result,
                                     const std::vector<std::string>& personas) {
  ScenarioReport s;
  s.name = scenario.name;
  s.file = scenario.source_file;
  s.teaches = scenario.teaches;
  s.error = result.error;
  s.cancelled = result.cancelled;
  s.elapsed_ms = result.elapsed_ms;
  s.logs = result.runner_logs;
  s.logs.insert(s.logs.end(), result.sut_logs.begin(), result.sut_logs.end());
  for (const auto& probe : result.probes) {
    s.outcomes.push_back(score::score_probe(evidence_from_probe(scenario, result, probe)));
  }
  // Outbound first, then inbound (the runner's order already; kept explicit and stable).
  std::stable_sort(s.outcomes.begin(), s.outcomes.end(),
                   [](const score::Outcome& a, const score::Outcome& b) {
                     return a.direction == score::Direction::outbound &&
                            b.direction == score::Direction::inbound;
                   });
  if (s.error.empty() && !s.cancelled) {
    s.expectations = score::evaluate_all(expectations_for(scenario, personas), s.outcomes);
  }
  return s;
}

}  // namespace mailsim::report
