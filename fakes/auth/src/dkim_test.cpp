// DKIM sign/verify through a World and the in-process resolver: the key-record breakages
// a DNS panel really causes (cut at 255, split with a stray separator), key sizes, a
// missing key, and the deterministic key generator.
#include "mailsim/auth/dkim.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::auth {
namespace {

constexpr std::int64_t kNow = 1700000000;  // injected clock (2023-11-14)
const char* kMessage =
    "From: Hello <hello@nodeseek.com>\r\n"
    "To: someone@gmail.com\r\n"
    "Subject: deliverability test\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "Message-ID: <test-1@nodeseek.com>\r\n"
    "\r\n"
    "Hello from the guide's mail server.\r\n";

const std::string kKeyName = "mail._domainkey.nodeseek.com";

const DkimKey& rsa2048() {
  static const DkimKey key = generate_dkim_key("nodeseek.com", "mail", 7, 2048);
  return key;
}

Message signed_message(const DkimKey& key) {
  Message m = Message::parse(kMessage);
  std::string header = sign_dkim(m, key, {.now = kNow});
  return Message::parse(header + m.raw);
}

DkimResult verify_with(const world::Record& key_record, const Message& m) {
  world::World w;
  w.add_zone("nodeseek.com");
  w.add(key_record);
  auto resolver = dns::make_world_resolver(w);
  return verify_dkim(m, *resolver, {.now = kNow + 60});
}

TEST(Dkim, SignedHeaderIsACompleteFoldedField) {
  Message m = Message::parse(kMessage);
  std::string header = sign_dkim(m, rsa2048(), {.now = kNow});
  EXPECT_EQ(header.rfind("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;", 0), 0u)
      << header;
  EXPECT_NE(header.find("d=nodeseek.com"), std::string::npos);
  EXPECT_NE(header.find("s=mail"), std::string::npos);
  EXPECT_NE(header.find("t=1700000000"), std::string::npos) << "t= comes from the clock";
  EXPECT_EQ(header.substr(header.size() - 2), "\r\n");
  EXPECT_EQ(header.find("\n\t", 0) == std::string::npos ||
                header[header.find("\n\t") - 1] == '\r',
            true)
      << "folding uses CRLF";
}

TEST(Dkim, Rsa2048SplitIn255StringsPasses) {
  // A correct panel splits the ~400-character value into 255-octet strings; they join with
  // no separator (RFC 6376 §3.6.2.2).
  world::Record rec = world::make_txt(kKeyName, rsa2048().public_txt);
  ASSERT_GE(rec.strings.size(), 2u);
  DkimResult r = verify_with(rec, signed_message(rsa2048()));
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.result, Result::pass) << r.cause;
  EXPECT_EQ(r.signatures[0].key_bits, 2048);
  EXPECT_EQ(r.signatures[0].algorithm, "rsa-sha256");
  EXPECT_TRUE(r.signatures[0].body_hash_ok);
  EXPECT_EQ(r.passing_domains(), std::vector<std::string>{"nodeseek.com"});
  EXPECT_FALSE(r.trace.empty());
  EXPECT_NE(r.trace.front().text.find(kKeyName), std::string::npos) << "key query traced";
}

TEST(Dkim, KeyTruncatedAt255Fails) {
  world::Record rec =
      world::make_txt_strings(kKeyName, {rsa2048().public_txt.substr(0, 255)});
  DkimResult r = verify_with(rec, signed_message(rsa2048()));
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_NE(r.cause.find("truncated/unparsable"), std::string::npos) << r.cause;
  EXPECT_NE(r.cause.find("255"), std::string::npos) << r.cause;
}

TEST(Dkim, KeySplitWithPastedQuotesFails) {
  // The panel was given `"…" "…"` as one value: the quotes and the space are now part of
  // the key text, which no longer decodes.
  std::vector<std::string> parts = world::split_txt(rsa2048().public_txt);
  world::Record rec = world::make_txt(kKeyName, parts[0] + "\" \"" + parts[1]);
  DkimResult r = verify_with(rec, signed_message(rsa2048()));
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_NE(r.cause.find("truncated/unparsable"), std::string::npos) << r.cause;
  EXPECT_NE(r.cause.find("a quote"), std::string::npos) << r.cause;
}

TEST(Dkim, KeySplitWithABareSpaceStillPassesAsTheRfcAllows) {
  // RFC 6376 §3.6.1: p= is a base64string, which allows FWS between characters, so a
  // stray space inside the key is ignored by a conforming verifier (libopendkim too).
  std::vector<std::string> parts = world::split_txt(rsa2048().public_txt);
  parts[0] += " ";
  DkimResult r = verify_with(world::make_txt_strings(kKeyName, parts), signed_message(rsa2048()));
  EXPECT_EQ(r.result, Result::pass) << r.cause;
}

TEST(Dkim, KeyRecordLargerThanLibopendkimsBufferIsAnErrorNotAThrow) {
  // A key record longer than libopendkim's key buffer makes our lookup callback answer
  // DKIM_CBSTAT_ERROR, a status dkim_getresultstr() has no name for (it returns NULL).
  // verify_dkim used to format that NULL and throw (found by mailsim_dkim_fuzz); a check
  // must return a result whatever the DNS serves.
  std::string huge = "v=DKIM1; k=rsa; p=" + std::string(70000, 'A');
  DkimResult r;
  ASSERT_NO_THROW(r = verify_with(world::make_txt(kKeyName, huge), signed_message(rsa2048())));
  EXPECT_NE(r.result, Result::pass) << r.cause;
  EXPECT_FALSE(r.cause.empty());
}

TEST(Dkim, SmallKeyHasItsSizeRecorded) {
  DkimKey small = generate_dkim_key("nodeseek.com", "mail", 3, 512);
  EXPECT_EQ(small.bits, 512);
  DkimResult r = verify_with(world::make_txt(kKeyName, small.public_txt), signed_message(small));
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.signatures[0].key_bits, 512);
  // RFC 8301 §3.2: keys under 1024 bits must not be accepted.
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_NE(r.cause.find("512-bit key is too small"), std::string::npos) << r.cause;
}

TEST(Dkim, UnpublishedKeyIsPermerror) {
  // RFC 6376 §6.1.2: no key record → PERMFAIL "no key for signature"; reported as
  // permerror (RFC 8601 §2.7.1), not none: the message is signed.
  Message m = signed_message(rsa2048());
  world::World w;
  w.add_zone("nodeseek.com");
  auto resolver = dns::make_world_resolver(w);
  DkimResult r = verify_dkim(m, *resolver, {.now = kNow});
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_NE(r.cause.find("no key for signature"), std::string::npos) << r.cause;
  EXPECT_NE(r.cause.find("NXDOMAIN"), std::string::npos) << r.cause;
}

TEST(Dkim, KeyServfailIsTemperror) {
  world::World w;
  w.add_zone("nodeseek.com");
  w.add(world::make_txt(kKeyName, rsa2048().public_txt));
  w.add_fault({kKeyName, world::RrType::TXT, world::DnsFaultKind::servfail});
  auto resolver = dns::make_world_resolver(w);
  DkimResult r = verify_dkim(signed_message(rsa2048()), *resolver, {.now = kNow});
  EXPECT_EQ(r.result, Result::temperror) << r.cause;
}

TEST(Dkim, UnsignedMessageIsNone) {
  world::World w;
  auto resolver = dns::make_world_resolver(w);
  EXPECT_EQ(verify_dkim(Message::parse(kMessage), *resolver).result, Result::none);
}

// verify_dkim hands the message's own header and body text to libopendkim (whose
// dkim_header/dkim_body take u_char*) instead of copies: they must come back unchanged,
// and a header made in code (no raw text) must still be fed as "name: value".
TEST(Dkim, VerifyLeavesTheMessageAloneAndReadsFieldsWithoutRawText) {
  Message m = signed_message(rsa2048());
  // Relaxed canonicalisation rewrites white space and case in its own buffers; give it some.
  std::string raw = m.raw;
  raw.replace(raw.find("Subject: deliverability test"), 28, "SUBJECT:   deliverability \t test");
  Message spaced = Message::parse(raw);
  const Message before = spaced;
  DkimResult r = verify_with(world::make_txt(kKeyName, rsa2048().public_txt), spaced);
  EXPECT_EQ(r.result, Result::pass)
      << "relaxed header canonicalisation (RFC 6376 §3.4.2) lowercases the name and folds "
         "white space runs: "
      << r.cause;
  EXPECT_EQ(spaced.raw, before.raw);
  EXPECT_EQ(spaced.body, before.body);
  ASSERT_EQ(spaced.headers.size(), before.headers.size());
  for (std::size_t i = 0; i < spaced.headers.size(); ++i) {
    EXPECT_EQ(spaced.headers[i].raw, before.headers[i].raw) << i;
    EXPECT_EQ(spaced.headers[i].value, before.headers[i].value) << i;
  }

  const Message good = signed_message(rsa2048());
  const Message good_before = good;
  DkimResult ok = verify_with(world::make_txt(kKeyName, rsa2048().public_txt), good);
  EXPECT_EQ(ok.result, Result::pass) << ok.cause;
  EXPECT_EQ(good.raw, good_before.raw);
  EXPECT_EQ(good.body, good_before.body);

  // Fields with no raw text (a message assembled in code) verify the same as parsed ones
  // when the signed fields are written "Name: value" without folding. The DKIM-Signature
  // itself is folded, so it keeps its raw text.
  Message built = good;
  for (auto& h : built.headers)
    if (h.name != "DKIM-Signature") h.raw.clear();
  DkimResult same = verify_with(world::make_txt(kKeyName, rsa2048().public_txt), built);
  EXPECT_EQ(same.result, Result::pass) << same.cause;
  // …and they are really read: a changed value without raw text breaks the signature.
  for (auto& h : built.headers)
    if (h.name == "Subject") h.value = "changed";
  DkimResult changed = verify_with(world::make_txt(kKeyName, rsa2048().public_txt), built);
  EXPECT_EQ(changed.result, Result::fail) << changed.cause;
}

TEST(Dkim, AlteredBodyFailsOnBodyHash) {
  Message m = signed_message(rsa2048());
  std::string raw = m.raw;
  raw.replace(raw.find("Hello from"), 5, "HELLO");
  DkimResult r = verify_with(world::make_txt(kKeyName, rsa2048().public_txt), Message::parse(raw));
  EXPECT_EQ(r.result, Result::fail) << r.cause;
  EXPECT_FALSE(r.signatures.at(0).body_hash_ok);
  EXPECT_NE(r.cause.find("body hash"), std::string::npos) << r.cause;
}

TEST(Dkim, ExpiryFollowsTheInjectedClock) {
  // x= is checked against DkimVerifyOptions::now, not the machine's clock.
  Message m = signed_message(rsa2048());
  world::World w;
  w.add_zone("nodeseek.com");
  w.add(world::make_txt(kKeyName, rsa2048().public_txt));
  auto resolver = dns::make_world_resolver(w);
  EXPECT_EQ(verify_dkim(m, *resolver, {.now = kNow + 10}).result, Result::pass);
  // A signature from "the future" of the verifier's clock (t= beyond the drift) fails.
  DkimResult early = verify_dkim(m, *resolver, {.now = kNow - 3600});
  EXPECT_EQ(early.result, Result::fail) << early.cause;
  EXPECT_NE(early.cause.find("future"), std::string::npos) << early.cause;
}

TEST(Dkim, Ed25519RoundTrip) {
  DkimKey key = generate_dkim_key("nodeseek.com", "mail", 11, 0, "ed25519-sha256");
  EXPECT_EQ(key.public_txt.rfind("v=DKIM1; k=ed25519; p=", 0), 0u);
  DkimResult r = verify_with(world::make_txt(kKeyName, key.public_txt), signed_message(key));
  EXPECT_EQ(r.result, Result::pass) << r.cause;
  EXPECT_EQ(r.signatures.at(0).algorithm, "ed25519-sha256");
  EXPECT_EQ(r.signatures.at(0).key_bits, 256);
}

TEST(Dkim, WrongKeyFails) {
  DkimKey other = generate_dkim_key("nodeseek.com", "mail", 8, 1024);
  DkimResult r = verify_with(world::make_txt(kKeyName, other.public_txt), signed_message(rsa2048()));
  EXPECT_EQ(r.result, Result::fail) << r.cause;
  EXPECT_TRUE(r.signatures.at(0).body_hash_ok) << "the body is intact; the key is wrong";
}

// verify_dkim keeps a libopendkim library and parsed RSA keys per thread between calls
// (dkim.cpp); nothing of one call may leak into the next.
TEST(DkimReuse, ARotatedKeyUnderTheSameSelectorIsUsedNotTheOneParsedBefore) {
  DkimKey rotated = generate_dkim_key("nodeseek.com", "mail", 9, 2048);
  Message by_old = signed_message(rsa2048());
  Message by_new = signed_message(rotated);
  world::Record old_key = world::make_txt(kKeyName, rsa2048().public_txt);
  world::Record new_key = world::make_txt(kKeyName, rotated.public_txt);
  EXPECT_EQ(verify_with(old_key, by_old).result, Result::pass);
  EXPECT_EQ(verify_with(old_key, by_old).result, Result::pass) << "second use, same key";
  DkimResult stale = verify_with(new_key, by_old);
  EXPECT_EQ(stale.result, Result::fail) << stale.cause;
  EXPECT_EQ(verify_with(new_key, by_new).result, Result::pass);
  DkimResult back = verify_with(old_key, by_new);
  EXPECT_EQ(back.result, Result::fail) << back.cause;
  EXPECT_EQ(verify_with(old_key, by_old).result, Result::pass);
}

TEST(DkimReuse, OptionsOfOneCallDoNotStickToTheNext) {
  Message m = signed_message(rsa2048());
  world::World w;
  w.add_zone("nodeseek.com");
  w.add(world::make_txt(kKeyName, rsa2048().public_txt));
  auto resolver = dns::make_world_resolver(w);
  DkimResult strict = verify_dkim(m, *resolver, {.now = kNow + 10, .min_rsa_bits = 4096});
  EXPECT_EQ(strict.result, Result::permerror) << strict.cause;
  EXPECT_NE(strict.cause.find("too small"), std::string::npos) << strict.cause;
  EXPECT_EQ(verify_dkim(m, *resolver, {.now = kNow + 10}).result, Result::pass)
      << "the 4096-bit floor of the previous call is gone";
  DkimResult early = verify_dkim(m, *resolver, {.now = kNow - 3600});
  EXPECT_EQ(early.result, Result::fail) << early.cause;
  EXPECT_EQ(verify_dkim(m, *resolver, {.now = kNow + 10}).result, Result::pass)
      << "the clock of the previous call is gone";

  Message plain = Message::parse(kMessage);
  std::string only_from = sign_dkim(plain, rsa2048(), {.headers = {"from"}, .now = kNow});
  EXPECT_NE(only_from.find("h=From;"), std::string::npos) << only_from;
  std::string all = sign_dkim(plain, rsa2048(), {.now = kNow});
  EXPECT_NE(all.find("h=From:To:Subject:Date:Message-ID;"), std::string::npos)
      << "the header list of the previous signature is gone: " << all;
}

TEST(DkimReuse, ConcurrentThreadsEachGetTheirOwnVerdicts) {
  // Every thread verifies both keys' messages against both published keys, interleaved:
  // per-thread state must give each call exactly its own answer.
  DkimKey rotated = generate_dkim_key("nodeseek.com", "mail", 9, 2048);
  const Message by_old = signed_message(rsa2048());
  const Message by_new = signed_message(rotated);
  const world::Record old_key = world::make_txt(kKeyName, rsa2048().public_txt);
  const world::Record new_key = world::make_txt(kKeyName, rotated.public_txt);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        bool flip = ((i + t) % 2) == 0;
        const world::Record& key = flip ? old_key : new_key;
        if (verify_with(key, flip ? by_old : by_new).result != Result::pass) ++wrong;
        if (verify_with(key, flip ? by_new : by_old).result != Result::fail) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(DkimKeyGen, SameSeedSameKeyOtherSeedOtherKey) {
  DkimKey a = generate_dkim_key("nodeseek.com", "mail", 1234, 1024);
  DkimKey b = generate_dkim_key("example.org", "s2", 1234, 1024);
  DkimKey c = generate_dkim_key("nodeseek.com", "mail", 1235, 1024);
  EXPECT_EQ(a.public_txt, b.public_txt);
  EXPECT_EQ(a.private_key_pem, b.private_key_pem);
  EXPECT_EQ(b.domain, "example.org");
  EXPECT_EQ(b.selector, "s2");
  EXPECT_NE(a.public_txt, c.public_txt);
  EXPECT_EQ(a.bits, 1024);
  DkimKey e1 = generate_dkim_key("nodeseek.com", "mail", 5, 0, "ed25519-sha256");
  DkimKey e2 = generate_dkim_key("nodeseek.com", "mail", 5, 0, "ed25519-sha256");
  EXPECT_EQ(e1.public_txt, e2.public_txt);
}

TEST(DkimKeyGen, RejectsUnknownAlgorithm) {
  EXPECT_THROW(generate_dkim_key("nodeseek.com", "mail", 1, 2048, "dsa"), std::invalid_argument);
}

}  // namespace
}  // namespace mailsim::auth
