// Postfix's own log lines and a virtual(8)-stored message, parsed into attempts/messages.
#include "postfix_log.hpp"

#include <gtest/gtest.h>

#include "mailsim/sut/postfix.hpp"

namespace mailsim::sut {
namespace {

const char* kLog =
    "Dec  3 17:20:01 mx postfix/smtp[411]: Untrusted TLS connection established to "
    "gmail-smtp-in.l.google.com[142.250.27.26]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384\n"
    "Dec  3 17:20:01 mx postfix/smtp[411]: 4ABC123: to=<probe@gmail.com>, "
    "relay=gmail-smtp-in.l.google.com[142.250.27.26]:25, delay=0.2, delays=0.1/0/0/0.1, "
    "dsn=5.7.25, status=bounced (host gmail-smtp-in.l.google.com[142.250.27.26] said: "
    "550-5.7.25 The IP address sending this message does not have a PTR 550-5.7.25 record "
    "setup. (in reply to end of DATA command))\n"
    "Dec  3 17:20:02 mx postfix/smtp[412]: 5DEF456: to=<probe@outlook.com>, relay=none, "
    "delay=5, delays=0/0/5/0, dsn=4.4.1, status=deferred (connect to "
    "outlook-com.olc.protection.outlook.com[52.101.68.10]:25: Connection timed out)\n"
    "Dec  3 17:20:03 mx postfix/smtp[413]: 6AAA789: to=<probe@yahoo.com>, "
    "relay=mta5.am0.yahoodns.net[67.195.204.72]:25, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, "
    "status=sent (250 2.0.0 ok dirdel)\n";

TEST(PostfixLog, AttemptsPerQueueIdWithRepliesTlsAndConnectErrors) {
  auto log = parse_postfix_log(kLog);
  auto b = log.status("4ABC123", 42);
  EXPECT_EQ(b.state, SubmissionState::bounced);
  ASSERT_EQ(b.attempts.size(), 1u);
  EXPECT_EQ(b.attempts[0].mx_host, "gmail-smtp-in.l.google.com");
  EXPECT_EQ(b.attempts[0].address, "142.250.27.26");
  EXPECT_TRUE(b.attempts[0].tls);
  EXPECT_TRUE(b.attempts[0].connected);
  EXPECT_EQ(b.attempts[0].final_reply.code, 550);
  EXPECT_EQ(b.attempts[0].final_reply.enhanced, "5.7.25");
  EXPECT_EQ(b.attempts[0].final_reply.lines.at(0),
            "The IP address sending this message does not have a PTR record setup.");
  EXPECT_EQ(b.attempts[0].at, 42);

  auto d = log.status("5DEF456", 0);
  EXPECT_EQ(d.state, SubmissionState::failed);
  ASSERT_EQ(d.attempts.size(), 1u);
  EXPECT_FALSE(d.attempts[0].connected);
  EXPECT_EQ(d.attempts[0].connect_error, "connection timed out");
  EXPECT_EQ(d.attempts[0].address, "52.101.68.10");
  EXPECT_EQ(d.attempts[0].outcome, AttemptOutcome::unreachable);

  auto s = log.status("6AAA789", 0);
  EXPECT_EQ(s.state, SubmissionState::delivered);
  EXPECT_FALSE(s.attempts[0].tls);
  EXPECT_EQ(s.attempts[0].final_reply.code, 250);
  EXPECT_FALSE(log.final("NOPE"));
  EXPECT_EQ(log.status("NOPE", 0).state, SubmissionState::queued);
}

TEST(PostfixLog, StoredMessageFromReceivedHeader) {
  auto m = parse_stored_message(
      "Return-Path: <sender@gmail.com>\nDelivered-To: postmaster@nodeseek.com\n"
      "Received: from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])\n"
      "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
      "\t(No client certificate requested)\n\tby mx.nodeseek.com (Postfix) with ESMTPS id 7BB\n"
      "\tfor <postmaster@nodeseek.com>; Thu,  3 Dec 2026 17:20:03 +0000 (UTC)\n"
      "Subject: hi\n\nbody\n");
  EXPECT_EQ(m.helo, "mail-sor-f41.google.com");
  EXPECT_EQ(m.client_ip, "209.85.220.41");
  EXPECT_TRUE(m.tls);
  EXPECT_EQ(m.envelope.mail_from, "sender@gmail.com");
  EXPECT_EQ(m.envelope.rcpt_to, std::vector<std::string>{"postmaster@nodeseek.com"});
}

TEST(PostfixConfig, MainCfCarriesTheGuideServer) {
  PostfixConfig c;
  c.run_dir = "/tmp/x";
  c.host_name = "mx.nodeseek.com";
  c.domain = "nodeseek.com";
  auto cf = postfix_main_cf(c);
  EXPECT_NE(cf.find("myhostname = mx.nodeseek.com\n"), std::string::npos);
  EXPECT_NE(cf.find("virtual_mailbox_domains = nodeseek.com\n"), std::string::npos);
  EXPECT_NE(cf.find("smtpd_milters = inet:127.0.0.1:8891\n"), std::string::npos);
  EXPECT_NE(cf.find("smtpd_tls_cert_file = /tmp/x/tls/server.pem\n"), std::string::npos);
  EXPECT_NE(cf.find("queue_directory = /tmp/x/queue\n"), std::string::npos);
  c.tls = false;
  EXPECT_NE(postfix_main_cf(c).find("smtp_tls_security_level = none"), std::string::npos);
  EXPECT_EQ(postfix_master_cf().find(" y "), std::string::npos) << "no chroot";
}

}  // namespace
}  // namespace mailsim::sut
