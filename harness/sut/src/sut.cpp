#include "mailsim/sut/sut.hpp"

#include <fmt/core.h>

#include "builtin.hpp"
#include "mailsim/sut/haraka.hpp"
#include "mailsim/sut/posteio.hpp"
#include "mailsim/sut/postfix.hpp"

namespace mailsim::sut {

std::string_view to_string(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::delivered: return "delivered";
    case AttemptOutcome::deferred: return "deferred";
    case AttemptOutcome::bounced: return "bounced";
    case AttemptOutcome::unreachable: return "unreachable";
  }
  return "unknown";
}

std::string_view to_string(SubmissionState state) {
  switch (state) {
    case SubmissionState::queued: return "queued";
    case SubmissionState::delivered: return "delivered";
    case SubmissionState::deferred: return "deferred";
    case SubmissionState::bounced: return "bounced";
    case SubmissionState::failed: return "failed";
  }
  return "unknown";
}

const std::vector<std::string>& sut_kinds() {
  // postfix and haraka are real MTAs: they run only on the netns fabric (the runner and
  // `mailsim run` say so when asked otherwise; docs/real-mtas.md).
  static const std::vector<std::string> kinds = {"builtin", "haraka", "posteio", "postfix"};
  return kinds;
}

std::unique_ptr<Sut> make_sut(std::string_view kind, const SutOptions& options) {
  if (kind == "posteio") return make_posteio_sut(posteio_options(options));
  if (!options.empty())
    throw SutError(fmt::format("setup under test '{}' takes no options (given: {}); "
                               "--pull, --keep and --posteio-tag are for --sut posteio",
                               kind, options.begin()->first));
  if (kind == "builtin") return make_builtin_sut();
  if (kind == "postfix") return make_postfix_sut();
  if (kind == "haraka") return make_haraka_sut();
  std::string choices;
  for (const auto& k : sut_kinds()) choices += (choices.empty() ? "" : ", ") + k;
  throw SutError(fmt::format("unknown setup under test '{}' (known: {})", kind, choices));
}

}  // namespace mailsim::sut
