"""`mailsim receive` as a user runs it (docs/cli.md "mailsim receive"): beside
`mailsim dns serve --scenario guide-baseline`, a gmail persona takes a message from Python's
smtplib in clear and with STARTTLS and prints one Delivery line for each; without
--client-ip the persona sees 127.0.0.1, which has no PTR in the world, and Gmail refuses at
RCPT with 550 5.7.25; SIGINT stops it with exit 0 and "stopped (N deliveries)". Bad flags
are usage errors (exit 2) that say what is wrong.

Every socket is on 127.0.0.1 (both servers listen on port 0 and their banners name the port
the kernel picked); every wait is bounded, and every process this starts is killed in a
finally block if it is still running.

Needs MAILSIM (path of the mailsim binary).
"""
import email.utils
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

MAILSIM = os.environ.get("MAILSIM", "")
WAIT = 15  # seconds: the longest any step may take


def mailsim_binary():
    if not MAILSIM or not os.access(MAILSIM, os.X_OK):
        pytest.fail(f"MAILSIM={MAILSIM!r} is not an executable mailsim binary")
    return MAILSIM


class Mailsim:
    """A running `mailsim …`: its stdout and stderr lines, collected as they come."""

    def __init__(self, *args):
        self.args = args
        self.proc = subprocess.Popen([mailsim_binary(), *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "NO_COLOR": "1"})
        self.lines = {"stdout": [], "stderr": []}
        self.closed = {"stdout": False, "stderr": False}
        self.cv = threading.Condition()
        self.pumps = [threading.Thread(target=self._pump, args=(name, stream), daemon=True)
                      for name, stream in (("stdout", self.proc.stdout),
                                           ("stderr", self.proc.stderr))]
        for t in self.pumps:
            t.start()

    def _pump(self, name, stream):
        for line in stream:
            with self.cv:
                self.lines[name].append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.closed[name] = True
            self.cv.notify_all()

    def output(self):
        with self.cv:
            return ("stdout:\n" + "\n".join(self.lines["stdout"]) +
                    "\nstderr:\n" + "\n".join(self.lines["stderr"]))

    def wait_line(self, name, pattern, timeout=WAIT):
        """The match of the first `name` line matching `pattern`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for line in self.lines[name]:
                    m = re.search(pattern, line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self.closed[name] or left <= 0:
                    break
                self.cv.wait(left)
        pytest.fail(f"mailsim {' '.join(self.args)}: no {name} line matching {pattern!r} "
                    f"within {timeout} s\n{self.output()}")

    def interrupt(self):
        """SIGINT, then the exit code (bounded)."""
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout=WAIT)
        for t in self.pumps:
            t.join(timeout=WAIT)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
        for t in self.pumps:
            t.join(timeout=WAIT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def dns_serve():
    """Starts `mailsim dns serve --scenario guide-baseline` on 127.0.0.1: (process, address)."""
    d = Mailsim("dns", "serve", "--scenario", "guide-baseline", "--listen", "127.0.0.1:0")
    try:
        m = d.wait_line("stdout", r"listening on (127\.0\.0\.1:\d+) ")
    except BaseException:
        d.kill()
        raise
    return d, m.group(1)


@pytest.fixture(scope="module")
def dns():
    """One `mailsim dns serve` for the module's tests; yields its ADDRESS:PORT."""
    d, dns_at = dns_serve()
    with d:
        yield dns_at


def receive(dns_at, *flags):
    """Starts `mailsim receive --persona gmail` on a free 127.0.0.1 port; (process, port)."""
    r = Mailsim("receive", "--persona", "gmail", "--listen", "127.0.0.1:0", "--dns", dns_at,
                *flags)
    try:
        m = r.wait_line("stderr", r"^mailsim receive: persona gmail \(mx\.google\.com\) on "
                                  r"127\.0\.0\.1:(\d+), DNS ")
    except BaseException:
        r.kill()
        raise
    return r, int(m.group(1))


def message():
    return ("From: Admin <admin@nodeseek.com>\r\n"
            "To: someone@gmail.com\r\n"
            "Subject: receive test\r\n"
            f"Date: {email.utils.formatdate()}\r\n"
            "Message-ID: <receive-test@nodeseek.com>\r\n"
            "\r\n"
            "Hello from smtplib.\r\n")


def send_message(port, tls):
    """One message from admin@nodeseek.com to someone@gmail.com, which must be accepted."""
    s = smtp_session(port, tls)
    try:
        assert s.sendmail("admin@nodeseek.com", ["someone@gmail.com"], message()) == {}
    finally:
        s.quit()


def smtp_session(port, tls, cafile=None):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="mx.nodeseek.com", timeout=WAIT)
    if tls:
        # Without the CA (--ca-out), take the certificate unverified; with it, the chain
        # must verify (the name is mx.google.com, not the 127.0.0.1 we dial: no name check).
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED if cafile else ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("mx.nodeseek.com")
    return s


# Gmail files mail that came without TLS as spam (rule gmail.no_tls); with TLS, SPF pass and
# DMARC pass through SPF (guide-baseline publishes no DKIM key), the inbox.
@pytest.mark.parametrize("tls,threads,disposition", [(False, "1", "spam"),
                                                     (True, "2", "inbox")],
                         ids=["plain", "starttls"])
def test_message_is_accepted_and_printed_then_sigint_stops(dns, tls, threads, disposition):
    r, port = receive(dns, "--client-ip", "12.34.56.78", "--threads", threads)
    try:
        banner = r.wait_line("stderr", r"STARTTLS (on|off).*, (\d+) thread\(s\); Ctrl-C stops")
        assert banner.group(1) == "on" and banner.group(2) == threads, r.output()
        send_message(port, tls)
        line = r.wait_line("stdout", r"^#1 ").string
        assert line.startswith("#1 gmail 12.34.56.78 <admin@nodeseek.com> -> "
                               f"<someone@gmail.com> {disposition} at accepted: 250 2.0.0 OK "
                               "mailsim000001 - gsmtp"), line
        assert line.endswith(" [gmail.no_tls]") == (not tls), line
        rc = r.interrupt()
        assert rc == 0, r.output()
        assert r.lines["stderr"][-1] == "mailsim receive: stopped (1 deliveries)", r.output()
        assert len(r.lines["stdout"]) == 1, r.output()  # one line per Delivery, nothing else
    finally:
        r.kill()


def test_without_client_ip_gmail_refuses_127_0_0_1_at_rcpt(dns):
    # The persona sees the real peer, 127.0.0.1: no PTR in the world, so iprev fails and
    # Gmail refuses the recipient (550 5.7.25) — why README's example passes --client-ip.
    r, port = receive(dns, "--no-tls")
    try:
        s = smtp_session(port, tls=False)
        try:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                s.sendmail("admin@nodeseek.com", ["someone@gmail.com"], message())
            code, text = refused.value.recipients["someone@gmail.com"]
            assert code == 550 and text.startswith(b"5.7.25 "), (code, text)
        finally:
            s.quit()
        line = r.wait_line("stdout", r"^#1 ").string
        assert line.startswith("#1 gmail 127.0.0.1 <admin@nodeseek.com> -> <someone@gmail.com> "
                               "rejected at rcpt: 550 5.7.25 "), line
        assert "[gmail.ptr]" in line, line
        assert re.search(r"STARTTLS off", r.output()), r.output()
        rc = r.interrupt()
        assert rc == 0, r.output()
        assert r.lines["stderr"][-1] == "mailsim receive: stopped (1 deliveries)", r.output()
    finally:
        r.kill()


# --ca-out writes the CA that issued the STARTTLS certificate: a client can verify the chain,
# and the certificate is for the persona's host; a client trusting only the system's roots
# cannot.
def test_ca_out_lets_a_client_verify_the_certificate(dns, tmp_path):
    ca = tmp_path / "ca.pem"
    r, port = receive(dns, "--client-ip", "12.34.56.78", "--ca-out", str(ca))
    try:
        assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----"), ca.read_text()
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="mx.nodeseek.com", timeout=WAIT)
        try:
            roots_only = ssl.create_default_context()
            roots_only.check_hostname = False
            with pytest.raises(ssl.SSLCertVerificationError):
                s.starttls(context=roots_only)
        finally:
            s.close()
        s = smtp_session(port, tls=True, cafile=str(ca))
        try:
            cert = s.sock.getpeercert()
            names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
            assert names == ["mx.google.com"], cert
            assert s.sendmail("admin@nodeseek.com", ["someone@gmail.com"], message()) == {}
        finally:
            s.quit()
        r.wait_line("stdout", r"^#\d+ gmail 12\.34\.56\.78 .* inbox at accepted: 250 2\.0\.0 OK ")
        assert r.interrupt() == 0, r.output()
    finally:
        r.kill()


def dns_queries_for(messages, *flags):
    """Queries a fresh `mailsim dns serve` answered while a receiver took `messages` mails."""
    d, dns_at = dns_serve()
    with d:
        r, port = receive(dns_at, "--client-ip", "12.34.56.78", "--no-tls", *flags)
        try:
            for n in range(messages):
                send_message(port, tls=False)
                r.wait_line("stdout", rf"^#{n + 1} gmail .* spam at accepted: ")
            assert r.interrupt() == 0, r.output()
        finally:
            r.kill()
        rc = d.interrupt()
        assert rc == 0, d.output()
        m = d.wait_line("stdout", r"(\d+) queries served")
        return int(m.group(1)), r.output()


# A provider's MX asks a caching resolver: by default answers are kept (up to 60 s), so
# three messages from the same sender cost the fake DNS no more than the first one did;
# --dns-cache 0 asks it at every lookup, the same queries for every message.
def test_dns_answers_are_kept_unless_dns_cache_is_0():
    uncached, out = dns_queries_for(3, "--dns-cache", "0")
    assert "DNS 127.0.0.1:" in out and "(no cache)" in out, out
    assert uncached > 0 and uncached % 3 == 0, uncached
    cached, out = dns_queries_for(3)
    assert "(answers kept up to 60 s)" in out, out
    assert 0 < cached <= uncached // 3, (cached, uncached)


def run_receive(*flags):
    """`mailsim receive …` that is expected to stop by itself (a usage error)."""
    return subprocess.run([mailsim_binary(), "receive", *flags], capture_output=True, text=True,
                          timeout=WAIT, env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.parametrize("flags,expected", [
    (["--listen", "8.8.8.8:25"],
     "mailsim: --listen '8.8.8.8:25': only loopback addresses (127.0.0.0/8, ::1) are allowed "
     "in the sealed world"),
    (["--persona", "nope"],
     "mailsim: unknown persona 'nope' (known: gmail, outlook, yahoo, mailtester, corporate)"),
    (["--dns", "localhost:5300"],
     "mailsim: --dns 'localhost:5300': 'localhost' is not an IP address (names are not "
     "resolved); expected a loopback ADDRESS:PORT, e.g. 127.0.0.1:5300"),
    (["--dns", "127.0.0.1:53x"],
     "mailsim: --dns '127.0.0.1:53x': the port must be a number from 1 to 65535"),
    (["--dns", "5300"],
     "mailsim: --dns '5300': expected a loopback ADDRESS:PORT, e.g. 127.0.0.1:5300"),
    (["--threads", "0"], "--threads: '0': need a whole number of threads from 1 to 256"),
    (["--dns-cache", "-1"], "--dns-cache: Value -1 not in range 0 to 86400"),
], ids=["listen-not-loopback", "unknown-persona", "dns-name", "dns-bad-port", "dns-no-port",
        "threads-0", "dns-cache-negative"])
def test_bad_flags_are_usage_errors(flags, expected):
    # A good --dns unless the case is about --dns: one thing wrong per case.
    dns_flag = [] if "--dns" in flags else ["--dns", "127.0.0.1:5300"]
    r = run_receive(*dns_flag, *flags)
    assert r.returncode == 2, f"{flags}: exit {r.returncode}\n{r.stderr}"
    assert r.stderr.splitlines()[0] == expected, r.stderr
    assert r.stdout == ""


def test_listen_port_in_use_is_a_usage_error():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        r = run_receive("--dns", "127.0.0.1:5300", "--listen", f"127.0.0.1:{port}")
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stderr}"
    assert r.stderr.startswith(f"mailsim: --listen '127.0.0.1:{port}': cannot listen there: "), \
        r.stderr
