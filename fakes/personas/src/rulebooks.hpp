// The built-in rulebooks, one function per persona (private to the personas area).
#pragma once

#include "mailsim/personas/persona.hpp"

namespace mailsim::personas {

Persona gmail_persona();
Persona outlook_persona();
Persona yahoo_persona();
Persona mailtester_persona();
Persona corporate_persona();

// Predicate helpers shared by the rulebooks.
namespace pred {
using auth::Result;
inline bool iprev_failed(const RuleInput& in) {
  // fail / none / permerror all mean "no PTR whose name resolves back" (RFC 8601 §3).
  return in.checks.iprev && !in.checks.iprev->is(Result::pass) &&
         !in.checks.iprev->is(Result::temperror);
}
inline bool iprev_temperror(const RuleInput& in) {
  return in.checks.iprev && in.checks.iprev->is(Result::temperror);
}
inline bool no_ptr(const RuleInput& in) {
  return in.checks.iprev && in.checks.iprev->ptr_names.empty() &&
         !in.checks.iprev->is(Result::temperror);
}
inline bool listed(const RuleInput& in) {
  return in.checks.dnsbl && in.checks.dnsbl->is(Result::fail);
}
inline bool listed_on(const RuleInput& in, std::string_view zone_part, std::string_view list = {}) {
  if (!in.checks.dnsbl) return false;
  for (const auto& l : in.checks.dnsbl->listings)
    if (l.zone.find(zone_part) != std::string::npos && (list.empty() || l.list == list))
      return true;
  return false;
}
inline bool spf_is(const RuleInput& in, Result r) { return in.checks.spf && in.checks.spf->is(r); }
// A DKIM key query failed for now (RFC 6376 §6.1.2 TEMPFAIL): the whole check, or one
// signature.
inline bool dkim_temperror(const RuleInput& in) {
  if (!in.checks.dkim) return false;
  if (in.checks.dkim->is(Result::temperror)) return true;
  for (const auto& s : in.checks.dkim->signatures)
    if (s.is(Result::temperror)) return true;
  return false;
}
inline bool dmarc_is(const RuleInput& in, Result r) {
  return in.checks.dmarc && in.checks.dmarc->is(r);
}
inline bool dmarc_policy(const RuleInput& in, std::string_view p) {
  return in.checks.dmarc && in.checks.dmarc->policy == p;
}
inline bool dmarc_has_record(const RuleInput& in) {
  return in.checks.dmarc && in.checks.dmarc->record.has_value() &&
         !in.checks.dmarc->record->p.empty();
}
inline bool authenticated(const RuleInput& in) {
  return spf_pass(in.checks) || dkim_pass_strong(in.checks);
}
inline bool content_known(const RuleInput& in) { return in.checks.content.has_value(); }
}  // namespace pred

}  // namespace mailsim::personas
