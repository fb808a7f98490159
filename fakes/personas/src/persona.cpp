// The rulebook engine: evaluates a persona's table at one SMTP stage.
#include "mailsim/personas/persona.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "rulebooks.hpp"

namespace mailsim::personas {

std::string_view to_string(Stage stage) {
  switch (stage) {
    case Stage::connect:
      return "connect";
    case Stage::helo:
      return "helo";
    case Stage::mail:
      return "mail";
    case Stage::rcpt:
      return "rcpt";
    case Stage::data:
      return "data";
    case Stage::accepted:
      return "accepted";
  }
  return "?";
}

std::string_view to_string(Disposition disposition) {
  switch (disposition) {
    case Disposition::inbox:
      return "inbox";
    case Disposition::spam:
      return "spam";
    case Disposition::rejected:
      return "rejected";
    case Disposition::deferred:
      return "deferred";
  }
  return "?";
}

std::string Facts::mail_from_domain() const {
  auto at = mail_from.rfind('@');
  std::string d = at == std::string::npos ? (mail_from.empty() ? helo : std::string{})
                                          : mail_from.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return std::tolower(c); });
  return d;
}

namespace {

std::string result_word(const std::optional<auth::Result>& r) {
  if (!r) return "None";
  switch (*r) {
    case auth::Result::pass:
      return "Pass";
    case auth::Result::fail:
      return "Fail";
    case auth::Result::softfail:
      return "SoftFail";
    case auth::Result::neutral:
      return "Neutral";
    case auth::Result::none:
      return "None";
    case auth::Result::temperror:
      return "TempError";
    case auth::Result::permerror:
      return "PermError";
    case auth::Result::policy:
      return "Policy";
  }
  return "None";
}

template <class T>
std::optional<auth::Result> result_of(const std::optional<T>& check) {
  if (!check) return std::nullopt;
  return check->result;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

std::string format_points(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

std::string expand(std::string_view text, const Facts& facts, const auth::CheckSet& checks) {
  std::string s{text};
  if (text.find('{') == std::string_view::npos) return s;  // most texts have no placeholder
  replace_all(s, "{ip}", facts.client_ip);
  replace_all(s, "{domain}", facts.mail_from_domain());
  replace_all(s, "{from_domain}", facts.from_domain);
  replace_all(s, "{helo}", facts.helo);
  replace_all(s, "{id}", facts.message_id);
  replace_all(s, "{spf}", result_word(result_of(checks.spf)));
  replace_all(s, "{dkim}", result_word(result_of(checks.dkim)));
  replace_all(s, "{dmarc}", result_word(result_of(checks.dmarc)));
  return s;
}

bool spf_pass(const auth::CheckSet& checks) {
  return checks.spf && checks.spf->is(auth::Result::pass);
}

bool dkim_pass_any(const auth::CheckSet& checks) {
  if (!checks.dkim) return false;
  return std::any_of(checks.dkim->signatures.begin(), checks.dkim->signatures.end(),
                     [](const auth::DkimSignatureResult& s) { return s.is(auth::Result::pass); });
}

bool dkim_pass_strong(const auth::CheckSet& checks) {
  if (!checks.dkim) return false;
  return std::any_of(checks.dkim->signatures.begin(), checks.dkim->signatures.end(),
                     [](const auth::DkimSignatureResult& s) {
                       bool ed = s.algorithm.rfind("ed25519", 0) == 0;
                       return s.is(auth::Result::pass) && (ed || s.key_bits >= 1024);
                     });
}

bool dmarc_aligned(const auth::CheckSet& checks) {
  return checks.dmarc && (checks.dmarc->spf_aligned || checks.dmarc->dkim_aligned);
}

namespace {

// Splits a '\n'-separated text into reply lines; the suffix goes on the last one.
smtp::Reply build_reply(int code, const std::string& enhanced, const std::string& text,
                        const std::string& suffix, const std::string& cause) {
  smtp::Reply r;
  r.code = code;
  r.enhanced = enhanced;
  r.cause = cause;
  std::size_t start = 0;
  while (true) {
    auto nl = text.find('\n', start);
    r.lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  r.lines.back() += suffix;
  return r;
}

std::string reply_summary(const smtp::Reply& r) {
  std::string s = std::to_string(r.code);
  if (!r.enhanced.empty()) s += " " + r.enhanced;
  for (const auto& l : r.lines) s += " " + l;
  return s;
}

bool has_spam_hit(const std::vector<RuleHit>& hits) {
  return std::any_of(hits.begin(), hits.end(),
                     [](const RuleHit& h) { return h.disposition == Disposition::spam; });
}

}  // namespace

double Persona::score(const std::vector<RuleHit>& fired) const {
  if (model == ScoreModel::mailtester) {
    // 10 − max(0, SpamAssassin total) − own deductions (points are shown flipped, so the
    // SpamAssassin part is min(0, Σ) here); see own_rule_prefix.
    double spamassassin = 0, own = 0;
    for (const auto& h : fired)
      (!own_rule_prefix.empty() && h.id.starts_with(own_rule_prefix) ? own : spamassassin) +=
          h.points;
    return std::clamp(start_score + std::min(spamassassin, 0.0) + own, 0.0, 10.0);
  }
  double total = start_score;
  for (const auto& h : fired) total += h.points;
  return total;
}

std::string Persona::greeting(std::string_view host, std::string_view id) const {
  std::string s = std::string{host} + " " + greeting_suffix;
  replace_all(s, "{id}", id);
  return s;
}

Verdict Persona::evaluate(Stage stage, const auth::CheckSet& checks, const Facts& facts,
                          const std::vector<RuleHit>& prior) const {
  Verdict v;
  const RuleInput input{checks, facts};
  for (const auto& rule : rules) {
    if (rule.stage != stage) continue;
    // After the reply the transaction is over: later replying rules have nothing to answer,
    // but the stage's findings still describe the message (outlook.rdns beside 5.7.509).
    if (v.reply && rule.code != 0) continue;
    if (!rule.when(input)) continue;
    RuleHit hit{rule.id, rule.description, rule.points, rule.source, stage, rule.disposition, {}};
    if (rule.code != 0 && model == ScoreModel::first_match) {
      v.reply = build_reply(rule.code, rule.enhanced, expand(rule.text, facts, checks),
                            expand(reply_suffix, facts, checks),
                            rule.id + ": " + rule.description + " (" + rule.source + ")");
      v.disposition = rule.code >= 500 ? Disposition::rejected : Disposition::deferred;
      hit.disposition = v.disposition;
      hit.reply = reply_summary(*v.reply);
    }
    v.fired.push_back(std::move(hit));
  }
  if (v.reply) return v;  // first_match: the reply decides; findings do not change it
  // The verdict weighs every rule so far: the earlier stages' and this one's.
  std::vector<RuleHit> all;
  auto every_hit = [&]() -> const std::vector<RuleHit>& {
    if (v.fired.empty()) return prior;
    all.reserve(prior.size() + v.fired.size());
    all = prior;
    all.insert(all.end(), v.fired.begin(), v.fired.end());
    return all;
  };
  switch (model) {
    case ScoreModel::first_match:
      v.disposition = has_spam_hit(prior) || has_spam_hit(v.fired) ? Disposition::spam
                                                                    : Disposition::inbox;
      break;
    case ScoreModel::mailtester:
      v.disposition = score(every_hit()) < spam_threshold ? Disposition::spam : Disposition::inbox;
      break;
    case ScoreModel::spamassassin: {
      double total = score(every_hit());
      v.disposition = total >= spam_threshold ? Disposition::spam : Disposition::inbox;
      if (stage == Stage::data && reject_threshold > 0 && total >= reject_threshold) {
        smtp::Reply r = score_reject;
        for (auto& l : r.lines) replace_all(l, "{score}", format_points(total));
        const std::string source = r.cause;
        r.cause = "score " + format_points(total) + " >= reject threshold " +
                  format_points(reject_threshold) + " (" + score_formula + ")";
        v.reply = r;
        v.disposition = Disposition::rejected;
        v.fired.push_back({"score.reject", "The total score reaches the reject threshold", 0,
                           source, stage, Disposition::rejected, reply_summary(r)});
      }
      break;
    }
  }
  return v;
}

const std::vector<Persona>& all_personas() {
  static const std::vector<Persona> personas = {gmail_persona(), outlook_persona(), yahoo_persona(),
                                                mailtester_persona(), corporate_persona()};
  return personas;
}

const Persona& persona(std::string_view name) {
  for (const auto& p : all_personas())
    if (p.name == name) return p;
  std::string known;
  for (const auto& p : all_personas()) known += (known.empty() ? "" : ", ") + p.name;
  throw std::invalid_argument("unknown persona '" + std::string{name} + "' (known: " + known + ")");
}

}  // namespace mailsim::personas
