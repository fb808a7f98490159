// The RFC 7208 §12 record check, production by production: each case says which rule it
// exercises and the check must name the offending term.
#include "mailsim/auth/spf_syntax.hpp"

#include <gtest/gtest.h>

namespace mailsim::auth {
namespace {

void expect_invalid(std::string_view record, std::string_view term) {
  SpfSyntax s = parse_spf_record(record);
  EXPECT_FALSE(s.ok) << record;
  EXPECT_NE(s.error.find(term), std::string::npos) << record << " → " << s.error;
}

TEST(SpfSyntax, AcceptsTheGuideRecordAndParsesItsTerms) {
  SpfSyntax s = parse_spf_record("v=spf1 a mx -all");
  ASSERT_TRUE(s.ok) << s.error;
  ASSERT_EQ(s.terms.size(), 3u);
  EXPECT_EQ(s.terms[0].name, "a");
  EXPECT_EQ(s.terms[1].name, "mx");
  EXPECT_EQ(s.terms[2].name, "all");
  EXPECT_EQ(s.terms[2].qualifier, '-');
  EXPECT_TRUE(s.terms[2].explicit_qualifier);
  EXPECT_FALSE(s.terms[0].explicit_qualifier);
}

TEST(SpfSyntax, VersionMustBeSpf1FollowedBySpaceOrEnd) {  // §4.5
  EXPECT_TRUE(parse_spf_record("v=spf1").ok);
  EXPECT_TRUE(parse_spf_record("V=SPF1 -ALL").ok);  // case-insensitive
  EXPECT_TRUE(parse_spf_record("v=spf1 a  -all ").ok);  // 1*SP between, *SP after
  EXPECT_FALSE(parse_spf_record("v=spf10 -all").ok);
  EXPECT_FALSE(parse_spf_record("spf1 -all").ok);
}

TEST(SpfSyntax, DualCidrLengthsAndTheirRanges) {  // §5.6, §12 dual-cidr-length
  SpfSyntax s = parse_spf_record("v=spf1 a:mail.example.com/24//64 mx/0 a//0 ip4:1.2.3.4/0");
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.terms[0].value, "mail.example.com");
  EXPECT_EQ(s.terms[0].cidr4, 24);
  EXPECT_EQ(s.terms[0].cidr6, 64);
  EXPECT_EQ(s.terms[1].cidr4, 0);
  EXPECT_FALSE(s.terms[1].cidr6.has_value());
  EXPECT_EQ(s.terms[2].cidr6, 0);
  EXPECT_EQ(s.terms[3].cidr4, 0);
  expect_invalid("v=spf1 ip4:1.2.3.4/032 -all", "ip4:1.2.3.4/032");  // leading zero
  expect_invalid("v=spf1 ip4:1.2.3.4/33 -all", "ip4:1.2.3.4/33");
  expect_invalid("v=spf1 ip6:::1/129", "ip6:::1/129");
  expect_invalid("v=spf1 a/33", "a/33");
  expect_invalid("v=spf1 a//129", "a//129");
  expect_invalid("v=spf1 ip4:1.2.3.4//32", "ip4:1.2.3.4//32");
  expect_invalid("v=spf1 exists:mail.example.com/24", "exists:mail.example.com/24");
  expect_invalid("v=spf1 ptr/0 -all", "ptr/0");
}

TEST(SpfSyntax, Ip4AndIp6Networks) {  // §5.6 ip4-network qnum, RFC 4291 §2.2
  EXPECT_TRUE(parse_spf_record("v=spf1 ip4:192.0.2.1 ip6:2001:db8::/32 ip6:::FFFF:1.2.3.4").ok);
  expect_invalid("v=spf1 ip4:1.2.3", "ip4:1.2.3");
  expect_invalid("v=spf1 ip4:1.2.3.4:8080", "ip4:1.2.3.4:8080");
  expect_invalid("v=spf1 ip4:01.2.3.4", "ip4:01.2.3.4");
  expect_invalid("v=spf1 ip4:256.2.3.4", "ip4:256.2.3.4");
  expect_invalid("v=spf1 ip4", "ip4");
  expect_invalid("v=spf1 ip6:1.2.3.4", "ip6:1.2.3.4");
}

TEST(SpfSyntax, DomainEndNeedsAToplabelOrAMacro) {  // §7.1 domain-end, toplabel
  EXPECT_EQ(check_domain_spec("example.com"), "");
  EXPECT_EQ(check_domain_spec("example.com."), "");
  EXPECT_EQ(check_domain_spec("foo.xn--zckzah"), "");  // dashes inside a toplabel
  EXPECT_EQ(check_domain_spec("foo:bar/baz.example.com"), "");  // any visible char but %
  EXPECT_EQ(check_domain_spec("_spfh.%{d2}"), "");  // ends in a macro-expand
  EXPECT_NE(check_domain_spec(""), "");
  EXPECT_NE(check_domain_spec("foo-bar"), "");  // a single label
  EXPECT_NE(check_domain_spec("museum."), "");  // a trailing dot does not help
  EXPECT_NE(check_domain_spec("111.222.33.44"), "");  // all-numeric toplabel
  EXPECT_NE(check_domain_spec("abc.123"), "");
  EXPECT_NE(check_domain_spec("foo.-bar"), "");  // a toplabel may not begin with a dash
  EXPECT_NE(check_domain_spec("%{d}com"), "");  // the "." must follow the macro
  expect_invalid("v=spf1 a:foo-bar -all", "a:foo-bar");
  expect_invalid("v=spf1 mx: -all", "mx:");
  expect_invalid("v=spf1 exists:", "exists:");
  expect_invalid("v=spf1 include:", "include:");
}

TEST(SpfSyntax, MacroStrings) {  // §7.1 macro-expand, macro-literal; §7.3
  EXPECT_EQ(check_macro_string("%{ir}.%{v}._spf.%{d2}", false), "");
  EXPECT_EQ(check_macro_string("%{l2r+-}.%{S}", false), "");
  EXPECT_EQ(check_macro_string("macro%%percent%_%_space%-url", false), "");
  EXPECT_NE(check_macro_string("foo%", false), "");  // a lone %
  EXPECT_NE(check_macro_string("%(ir).sbl", false), "");
  EXPECT_NE(check_macro_string("%{x}", false), "");  // unknown letter
  EXPECT_NE(check_macro_string("%{d", false), "");  // unclosed
  EXPECT_NE(check_macro_string("%{d2x}", false), "");  // bad transformer
  EXPECT_NE(check_domain_spec("%{r}.example.com"), "");  // c, r, t only in exp text
  EXPECT_EQ(check_macro_string("%{c}.%{r}.%{t}", true), "");  // fine in a modifier value
  EXPECT_NE(check_macro_string("a b", true), "");  // SP is no macro-literal
  expect_invalid("v=spf1 -exists:%(ir).sbl.example.com ?all", "%(ir)");
  expect_invalid("v=spf1 -all exp=%{r}.example.com", "exp=%{r}.example.com");
}

TEST(SpfSyntax, ModifiersNamesAndRepeats) {  // §6, §12 name, unknown-modifier
  SpfSyntax s = parse_spf_record("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all");
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.terms[0].kind, SpfTerm::Kind::modifier);
  EXPECT_EQ(s.terms[0].name, "moo.cow-far_out");
  EXPECT_TRUE(parse_spf_record("v=spf1 redirect=_spf.example.com exp=why.example.com").ok);
  expect_invalid("v=spf1 moo.cow/far_out=man:dog/cat -all", "moo.cow/far_out");
  expect_invalid("v=spf1 1up=foo", "1up=foo");
  expect_invalid("v=spf1 =all", "=all");
  expect_invalid("v=spf1 -all foo=%abc", "foo=%abc");
  expect_invalid("v=spf1 ip4:1.2.3.4 redirect:t2.example.com", "redirect:t2.example.com");
  expect_invalid("v=spf1 redirect=a.example.com -all redirect=a.example.com", "appears twice");
  expect_invalid("v=spf1 exp=a.example.com -all exp=b.example.com", "appears twice");
  expect_invalid("v=spf1 ?all redirect=", "redirect=");
  expect_invalid("v=spf1 exp=-all", "exp=-all");
}

TEST(SpfSyntax, ErrorsAnywhereAndOddOctets) {  // §4.6, §3.1
  expect_invalid("v=spf1 ip4:1.2.3.4 -all moo", "\"moo\"");  // after a matching term
  expect_invalid("v=spf1 a:ctrl.example.com\rptr -all", "control");
  expect_invalid(std::string_view("v=spf1 a:foo.example.com\0", 25), "control");
  expect_invalid("v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all", "non-ASCII");
  expect_invalid("v=spf1 \x80" "a:example.net -all", "non-ASCII");
}

}  // namespace
}  // namespace mailsim::auth
