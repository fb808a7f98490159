// The Haraka log parser on lines captured from real Haraka 3.3.4 runs (`mailsim run --sut
// haraka --fabric netns`, dnsbl-listed and port25-blocked, MAILSIM_KEEP_RUN_DIR=1).
#include <gtest/gtest.h>

#include "mailsim/sut/haraka.hpp"

namespace mailsim::sut {
namespace {

const char* kLog =
    "2026-12-03T17:37:01.483Z [NOTICE] [6BA14428-504B-4E74-A52F-2C29619DEA2C.1] [core] queue "
    "code=OK msg=\"Message Queued (6BA14428-504B-4E74-A52F-2C29619DEA2C.1)\"\n"
    "2026-12-03T17:37:01.622Z [NOTICE] [6BA14428-504B-4E74-A52F-2C29619DEA2C.1.1] [outbound]  "
    "delivered file=1796319421483_1796319421483_0_11185_Ebermp_1_vm domain=gmail.com "
    "host=gmail-smtp-in.l.google.com ip=142.250.27.26 port=25 mode=SMTP tls=Y auth=N "
    "response=\"OK mailsim000001 - gsmtp\" delay=0.138 fails=0 rcpts=1/0/0\n"
    "2026-12-03T17:41:04.156Z [NOTICE] [4B63E4C7-88EF-4B48-86FC-D37FF00832F1.1.1] [outbound] "
    "mailsim deferred reason=\"Tried all MXs\"\n"
    "2026-12-03T17:40:54.144Z [NOTICE] [DF0A508B-E235-4643-AB3C-1E76D9133F5F.1.1] [outbound] "
    "mailsim deferred reason=\"Upstream error: 421 4.7.0 This message is suspicious due to the "
    "very low reputation of the sending IP address. mailsim000001 - gsmtp\"\n"
    "2026-12-03T17:40:54.316Z [NOTICE] [808246F5-C8AC-42F7-8712-3069C6A62477.1.1] [outbound] "
    "mailsim bounce host=outlook-com.olc.protection.outlook.com ip=52.101.68.10 reason=\"550 "
    "5.7.1 Service unavailable, Client host [12.34.56.78] blocked using Spamhaus. (AS3130).\"\n";

TEST(HarakaLog, DeliveredLineGivesTheReceiverAndTls) {
  auto log = parse_haraka_log(kLog);
  auto st = log.status("6BA14428-504B-4E74-A52F-2C29619DEA2C.1", 42);
  EXPECT_EQ(st.state, SubmissionState::delivered);
  ASSERT_EQ(st.attempts.size(), 1u);
  const auto& a = st.attempts[0];
  EXPECT_EQ(a.mx_host, "gmail-smtp-in.l.google.com");
  EXPECT_EQ(a.address, "142.250.27.26");
  EXPECT_TRUE(a.tls);
  EXPECT_TRUE(a.connected);
  EXPECT_EQ(a.final_reply.code, 250);
  EXPECT_EQ(a.at, 42);
}

TEST(HarakaLog, NoConnectionAtAllIsUnreachable) {
  auto st = parse_haraka_log(kLog).status("4B63E4C7-88EF-4B48-86FC-D37FF00832F1.1", 0);
  EXPECT_EQ(st.state, SubmissionState::failed);
  ASSERT_EQ(st.attempts.size(), 1u);
  EXPECT_FALSE(st.attempts[0].connected);
  EXPECT_EQ(st.attempts[0].outcome, AttemptOutcome::unreachable);
  EXPECT_EQ(st.attempts[0].connect_error, "Tried all MXs");
}

TEST(HarakaLog, UpstreamTemporaryErrorIsDeferredWithItsReply) {
  auto st = parse_haraka_log(kLog).status("DF0A508B-E235-4643-AB3C-1E76D9133F5F.1", 0);
  EXPECT_EQ(st.state, SubmissionState::deferred);
  ASSERT_EQ(st.attempts.size(), 1u);
  EXPECT_EQ(st.attempts[0].final_reply.code, 421);
  EXPECT_EQ(st.attempts[0].final_reply.enhanced, "4.7.0");
}

TEST(HarakaLog, PermanentRefusalIsBouncedWithTheProvidersWords) {
  auto st = parse_haraka_log(kLog).status("808246F5-C8AC-42F7-8712-3069C6A62477.1", 0);
  EXPECT_EQ(st.state, SubmissionState::bounced);
  ASSERT_EQ(st.attempts.size(), 1u);
  const auto& a = st.attempts[0];
  EXPECT_EQ(a.final_reply.code, 550);
  EXPECT_EQ(a.final_reply.enhanced, "5.7.1");
  ASSERT_FALSE(a.final_reply.lines.empty());
  EXPECT_NE(a.final_reply.lines[0].find("Spamhaus"), std::string::npos);
  EXPECT_EQ(a.mx_host, "outlook-com.olc.protection.outlook.com");
  EXPECT_EQ(a.address, "52.101.68.10");
}

TEST(HarakaLog, UnknownIdIsStillQueued) {
  auto log = parse_haraka_log(kLog);
  EXPECT_FALSE(log.final("nope"));
  EXPECT_EQ(log.status("nope", 0).state, SubmissionState::queued);
}

}  // namespace
}  // namespace mailsim::sut
