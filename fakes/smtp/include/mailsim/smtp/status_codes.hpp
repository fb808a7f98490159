// Enhanced mail system status codes (RFC 3463, registry RFC 5248), as a named table in the
// manner of OpenSMTPD's esc.c: replies take their enhanced code from here, never a literal.
#pragma once

#include <string_view>

namespace mailsim::smtp::esc {

// 2.x.x — success (RFC 3463 §3.1 class 2).
inline constexpr std::string_view kOk = "2.0.0";                  // X.0.0 other/undefined
inline constexpr std::string_view kSenderValid = "2.1.0";         // X.1.0 other address status
inline constexpr std::string_view kDestinationValid = "2.1.5";    // X.1.5 destination valid
inline constexpr std::string_view kCannotVerify = "2.5.0";        // VRFY 252 (RFC 5321 §3.5.3)
inline constexpr std::string_view kMessageAccepted = "2.6.0";     // X.6.0 other media/content
inline constexpr std::string_view kTlsReady = "2.0.0";            // STARTTLS 220 (RFC 3207 §4)

// 4.x.x — persistent transient failure.
inline constexpr std::string_view kTempOther = "4.0.0";
inline constexpr std::string_view kMailboxBusy = "4.2.1";         // X.2.1 mailbox disabled
inline constexpr std::string_view kMailboxFullTemp = "4.2.2";     // X.2.2 mailbox full
inline constexpr std::string_view kSystemNotAccepting = "4.3.2";  // X.3.2 (shutting down)
inline constexpr std::string_view kSystemFullTemp = "4.3.1";      // X.3.1 mail system full
inline constexpr std::string_view kNoAnswer = "4.4.1";            // X.4.1 no answer from host
inline constexpr std::string_view kBadConnection = "4.4.2";       // X.4.2 (timeout, lost)
inline constexpr std::string_view kCongestion = "4.4.5";          // X.4.5 system congestion
inline constexpr std::string_view kTooManyRecipients = "4.5.3";   // RFC 5321 §4.5.3.1.8
inline constexpr std::string_view kTempSecurity = "4.7.0";        // X.7.0 (greylisting, errors)
inline constexpr std::string_view kTempAuth = "4.7.1";            // X.7.1 delivery not authorized
inline constexpr std::string_view kTlsUnavailable = "4.7.0";      // STARTTLS 454 (RFC 3207 §4)

// 5.x.x — permanent failure.
inline constexpr std::string_view kPermOther = "5.0.0";
inline constexpr std::string_view kBadDestination = "5.1.1";      // X.1.1 bad destination mailbox
inline constexpr std::string_view kBadDestinationSystem = "5.1.2";
inline constexpr std::string_view kBadDestinationSyntax = "5.1.3";
inline constexpr std::string_view kBadSenderSyntax = "5.1.7";     // X.1.7 bad sender mailbox syntax
inline constexpr std::string_view kBadSenderSystem = "5.1.8";
inline constexpr std::string_view kMailboxDisabled = "5.2.1";
inline constexpr std::string_view kMailboxFull = "5.2.2";
inline constexpr std::string_view kMessageTooBigForMailbox = "5.2.3";
inline constexpr std::string_view kMessageTooBig = "5.3.4";       // RFC 1870 §6.3, X.3.4
inline constexpr std::string_view kInvalidCommand = "5.5.1";      // bad sequence (503)
inline constexpr std::string_view kSyntaxError = "5.5.2";         // unknown command / line too long
inline constexpr std::string_view kTooManyRecipientsPerm = "5.5.3";
inline constexpr std::string_view kInvalidArguments = "5.5.4";    // 501 / 555
inline constexpr std::string_view kWrongProtocolVersion = "5.5.5";
inline constexpr std::string_view kContentRejected = "5.6.0";
inline constexpr std::string_view kNonAsciiAddress = "5.6.7";     // RFC 6531 §3.5 (no SMTPUTF8)
inline constexpr std::string_view kSecurityOther = "5.7.0";       // X.7.0 (530 must STARTTLS)
inline constexpr std::string_view kSecurityPolicy = "5.7.1";      // X.7.1 not authorized / refused
inline constexpr std::string_view kEncryptionRequired = "5.7.11"; // RFC 5248 registry
inline constexpr std::string_view kReverseDnsFail = "5.7.25";     // RFC 7372 §3.3
inline constexpr std::string_view kMultipleAuthFail = "5.7.26";   // RFC 7372 §3.2
inline constexpr std::string_view kSenderAddressNullMx = "5.7.27";// RFC 7505 §4.3 (null MX)
inline constexpr std::string_view kDkimFail = "5.7.20";           // RFC 7372 §3.1 (no valid sig)
inline constexpr std::string_view kSpfFail = "5.7.23";            // RFC 7372 §3.2
inline constexpr std::string_view kSpfError = "5.7.24";
inline constexpr std::string_view kDmarcFail = "5.7.26";

// The RFC 3463 / RFC 5248 title of a code's subject.detail ("5.7.1" → "Delivery not
// authorized, message refused"); "" when the code is not in the table or malformed.
std::string_view describe(std::string_view enhanced);

// True when `enhanced` has the RFC 3463 §2 shape class.subject.detail (class 2, 4 or 5,
// subject 1-3 digits, detail 1-3 digits).
bool well_formed(std::string_view enhanced);

}  // namespace mailsim::smtp::esc
