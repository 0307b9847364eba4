#!/usr/bin/env python3
#
# Writes the seed corpora of the fuzz harnesses, once, at development
# time; the files are kept as written.  Not run by the tests.  Run from
# the top of the source tree:
#	python3 regress/fuzz/mkseeds.py
# then check with git status and git diff what changed.
#
# seeds/session: milter streams as an MTA sends them on one connection,
#   the way phishmilter-client (and Postfix's milter8 client) sends
#   them: each step after its macros, headers unfolded with their
#   leading space, the body in CRLF lines.  Most follow what phishmilter
#   negotiates for the configuration of f_session.c (no DATA, EOH or
#   UNKNOWN, no reply but at end of message); each message is written to
#   make one of its filters or skip lists decide.  Others send every
#   step, an old protocol version, several messages, aborts, and the
#   malformed or out-of-order packets a hostile peer sends.
# seeds/decode: the messages of regress/decode/msgs, a choice of those
#   of regress/rules/msgs, and messages that reach the MIME limits of
#   f_decode.c.
# seeds/config: the shipped configuration (rules files cut after about
#   8 KB, at the end of a filter), the configurations of the protocol
#   cases in regress/proto/cases, includes, and refused files.
import glob, os, re, shutil, struct

TOP = os.getcwd()
OUT = os.path.join(TOP, "regress", "fuzz", "seeds")

# --- milter streams

PROTO_V6 = 0x001fffff     # every protocol option Postfix offers


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd.encode() + data


def z(*parts):
    """NUL-terminated strings, one after the other."""
    return b"".join((p.encode() if isinstance(p, str) else p) + b"\0"
                    for p in parts)


def optneg(version=6, actions=0x1ff, protocol=PROTO_V6):
    return pkt("O", struct.pack(">III", version, actions, protocol))


def mac(stage, pairs):
    return pkt("D", stage.encode() + b"".join(z(k, v) for k, v in pairs))


def connect(host="mail.client.example", family="4", addr="192.0.2.1",
            port=49152):
    if family in "46L":
        return pkt("C", z(host) + family.encode() + struct.pack(">H", port)
                   + z(addr))
    return pkt("C", z(host) + family.encode())


def connection(host="mail.client.example", family="4", addr="192.0.2.1",
               helo="mail.client.example"):
    return (mac("C", [("j", "mx.example.net"),
                      ("{daemon_name}", "mx.example.net"),
                      ("v", "Postfix 3.7.11"),
                      ("_", "%s [%s]" % (host, addr)),
                      ("{client_addr}", addr), ("{client_name}", host),
                      ("{client_port}", "49152")])
            + connect(host, family, addr) + pkt("H", z(helo)))


def split_message(raw):
    """Headers (name, value as an MTA sends it) and the CRLF body."""
    raw = raw.replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n\n")
    headers = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and headers:
            n, v = headers[-1]
            headers[-1] = (n, v + b"\n" + line)
        elif b":" in line:
            n, _, v = line.partition(b":")
            headers.append((n, v))
    return headers, body.replace(b"\n", b"\r\n")


def message(raw, mail_from="<sender@example.org>",
            rcpts=("<rcpt@example.net>",), qid="4Xy7Zk1AbCz9", auth=None,
            steps=False, leadspc=True, eom=True):
    headers, body = split_message(raw)
    mail = [("i", qid)]
    if auth:
        mail += [("{auth_type}", auth[0]), ("{auth_authen}", auth[1])]
    mail.append(("{mail_addr}", mail_from.strip("<>")))
    s = mac("M", mail) + pkt("M", z(mail_from, "SIZE=%d" % len(raw)))
    for r in rcpts:
        s += mac("R", [("i", qid), ("{rcpt_addr}", r.strip("<>"))])
        s += pkt("R", z(r))
    if steps:
        s += mac("T", [("i", qid)]) + pkt("T")
    for n, v in headers:
        if not leadspc and v[:1] == b" ":
            v = v[1:]
        s += pkt("L", n + b"\0" + v + b"\0")
    if steps:
        s += mac("N", [("i", qid)]) + pkt("N")
    for i in range(0, len(body), 65535):
        s += pkt("B", body[i:i + 65535])
    if eom:
        s += mac("E", [("i", qid)]) + pkt("E")
    return s


def msg(subject="Hello", frm="Alice <alice@example.org>",
        to="Bob <bob@example.net>", extra="", body="Hello.\n"):
    return ("From: %s\nTo: %s\nSubject: %s\n%sMessage-ID: <1@example.org>\n"
            "Date: Sun, 22 Nov 2026 10:00:00 +0000\n\n%s" %
            (frm, to, subject, extra, body)).encode()


def session_stream(raw, conn=None, **kw):
    return (optneg() + (conn if conn is not None else connection())
            + message(raw, **kw) + pkt("Q"))


def session_seeds():
    d = os.path.join(OUT, "session")
    seeds = {}
    # The shape of every exchange: one plain message, accepted.
    seeds["plain"] = session_stream(msg())
    # One filter or skip list decides each of these.
    seeds["filter-accept"] = session_stream(
        msg(extra="X-Fuzz: accept\n", subject="reject"))
    seeds["filter-reject"] = session_stream(msg(subject="Please REJECT"))
    seeds["filter-reply"] = session_stream(
        msg(), mail_from="<reply@example.org>")
    seeds["filter-tempfail"] = session_stream(
        msg(), rcpts=("<tempfail@example.net>", "<other@example.net>"))
    seeds["filter-discard"] = session_stream(
        msg(), conn=connection(helo="discard.example"))
    seeds["filter-quarantine"] = session_stream(
        msg(), conn=connection(host="quarantine.example"))
    seeds["filter-ip4-warn"] = session_stream(
        msg(), conn=connection(addr="192.0.2.66"))
    seeds["filter-ip6-warn"] = session_stream(
        msg(), conn=connection(family="6", addr="IPv6:2001:db8::66"))
    seeds["filter-macro-log"] = session_stream(
        msg(), qid="Q123", auth=("plain", ""))
    seeds["filter-from"] = session_stream(
        msg(frm="=?UTF-8?B?44G/44Ga44G744Gw44KT44GP?= Bank <x@bank.example>"))
    seeds["filter-text"] = session_stream(
        msg(body="Your password expires today.\n"))
    seeds["filter-html"] = session_stream(msg(
        extra="MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n",
        body='<html><body><form action="https://login.example/">'
             '<input name="pw"></form></body></html>\n'))
    seeds["filter-url"] = session_stream(
        msg(body="Sign in at https://secure-login.example/verify now.\n"))
    seeds["filter-attach"] = session_stream(msg(
        extra='MIME-Version: 1.0\nContent-Type: multipart/mixed; '
              'boundary="b1"\n',
        body="--b1\nContent-Type: text/plain\n\nSee attached.\n--b1\n"
             "Content-Type: application/x-msdownload; name=\"invoice.exe\"\n"
             "Content-Disposition: attachment; filename=\"invoice.exe\"\n"
             "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgA\n"
             "--b1--\n"))
    seeds["filter-strip-log"] = session_stream(
        msg(subject="=?utf-8?Q?Urgent_=E3=80=80Action?="))
    seeds["filter-to-warn"] = session_stream(
        msg(to="Staff <staff@example.net>",
            extra="Cc: Everyone <all@example.net>\n"))
    seeds["skip-network"] = session_stream(
        msg(subject="reject"), conn=connection(addr="198.51.100.7"))
    seeds["skip-sender"] = session_stream(
        msg(subject="reject"), mail_from="<boss@partner.example>")
    seeds["skip-from"] = session_stream(
        msg(subject="reject", frm="Partner <news@trusted.example>"))
    seeds["skip-auth"] = session_stream(
        msg(subject="reject"), auth=("plain", "alice"))
    seeds["oversize"] = session_stream(msg(body=("y" * 78 + "\n") * 420))
    seeds["max-headers"] = session_stream(msg(extra="".join(
        "X-H%d: %d\n" % (i, i) for i in range(70))))
    # Every step, as an MTA that was asked for all of them sends.
    seeds["all-steps"] = (optneg() + connection() + pkt("U", z("VRFY x"))
                          + message(msg(), steps=True) + pkt("Q"))
    # Version 2, no leading space: headers get their ": " back.
    seeds["v2"] = (optneg(2, 0x3f, 0) + connection(family="L",
                   addr="/var/run/mta.sock")
                   + message(msg(), leadspc=False) + pkt("Q"))
    # Several messages, an abort, a MAIL without abort, a new connection.
    seeds["messages"] = (
        optneg() + connection()
        + message(msg(subject="first"), qid="A1")
        + message(msg(subject="reject"), qid="A2", eom=False) + pkt("A")
        + message(msg(subject="second"), qid="A3", eom=False)
        + message(msg(subject="third"), qid="A4")
        + pkt("K") + connection(host="other.example", family="U")
        + message(msg(subject="reject"), qid="A5") + pkt("Q"))
    # EOM carrying the last body bytes; macros for an unknown step.
    seeds["eom-data"] = (optneg() + connection() + mac("X", [("a", "b")])
                         + message(msg(), eom=False)
                         + pkt("E", b"tail\r\n") + pkt("Q"))
    # What a broken or hostile peer sends.
    seeds["bad-before-optneg"] = connection() + pkt("Q")
    seeds["bad-version"] = optneg(1) + pkt("Q")
    seeds["bad-optneg-short"] = pkt("O", b"\0\0\0\6") + pkt("Q")
    seeds["bad-zero-length"] = optneg() + b"\0\0\0\0"
    seeds["bad-too-large"] = optneg() + b"\0\x20\0\2L"
    seeds["bad-truncated"] = optneg() + connection() + pkt("L", z("Subject",
                                                          "x"))[:-3]
    seeds["bad-connect"] = optneg() + pkt("C", z("host") + b"4\0")
    seeds["bad-header"] = optneg() + connection() + pkt("L", b"Subject")
    seeds["bad-unknown-cmd"] = (optneg() + pkt("X", b"?") + pkt("X")
                                + connection() + message(msg()) + pkt("Q"))
    seeds["bad-unterminated"] = (optneg() + connection()
                                 + pkt("D", b"Mi\0unterminated")
                                 + pkt("M", b"<a@b.example>") + pkt("Q"))
    # Real messages of the test corpora, as Postfix passes them.
    for name in ("decode/msgs/nested-rfc822", "decode/msgs/rfc2231",
                 "decode/msgs/html-refs", "decode/msgs/sjis-cp932",
                 "rules/msgs/bank-mufg-body-spoof"):
        with open(os.path.join(TOP, "regress", name + ".eml"), "rb") as f:
            seeds["msg-" + os.path.basename(name)] = session_stream(f.read())
    write_all(d, seeds)


# --- messages

def decode_seeds():
    d = os.path.join(OUT, "decode")
    seeds = {}
    for p in sorted(glob.glob(os.path.join(TOP, "regress/decode/msgs/*.eml"))):
        with open(p, "rb") as f:
            seeds[os.path.basename(p)[:-4]] = f.read()
    for name in ("bank-mufg-body-spoof", "bank-jabank-body-spoof",
                 "card-rakuten-body-spoof", "delivery-sagawa-body-spoof",
                 "finance-bitflyer-body-spoof", "finance-merpay-body-spoof",
                 "delivery-yamato-body-real", "bank-paypay-body-real",
                 "delivery-dhl-spoof", "card-amex-spoof"):
        p = os.path.join(TOP, "regress/rules/msgs", name + ".eml")
        if os.path.exists(p):
            with open(p, "rb") as f:
                seeds["rules-" + name] = f.read()
    # Deeper than max_mime_depth, more parts than max_mime_parts.
    body = ""
    for i in range(12):
        body += ('Content-Type: multipart/mixed; boundary="d%d"\n\n--d%d\n'
                 % (i, i))
    body += "Content-Type: text/plain\n\ndeep\n"
    for i in reversed(range(12)):
        body += "--d%d--\n" % i
    seeds["limit-depth"] = ("From: a@example.org\nSubject: deep\n"
                            "MIME-Version: 1.0\n" + body).encode()
    parts = "".join("--p\nContent-Type: text/plain\n\npart %d\n" % i
                    for i in range(45))
    seeds["limit-parts"] = ('From: a@example.org\nSubject: parts\n'
                            'MIME-Version: 1.0\nContent-Type: multipart/mixed;'
                            ' boundary="p"\n\n' + parts + "--p--\n").encode()
    write_all(d, seeds)


# --- configurations

def cut(text, limit=8192):
    """The file up to the end of the last filter that ends by limit."""
    if len(text) <= limit:
        return text
    end = text.rfind(b"\n}\n", 0, limit)
    return text[:end + 3] if end > 0 else text[:limit]


def config_seeds():
    d = os.path.join(OUT, "config")
    seeds = {}
    for p in [os.path.join(TOP, "conf/phishmilter.conf")] + \
            sorted(glob.glob(os.path.join(TOP, "conf/*.d/*.conf"))):
        with open(p, "rb") as f:
            seeds["conf-" + os.path.basename(p)[:-5]] = cut(f.read())
    for p in sorted(glob.glob(os.path.join(TOP, "regress/proto/cases/*.case"))):
        with open(p, "rb") as f:
            m = re.search(rb"^== conf\n(.*?)(?=^== )", f.read(), re.S | re.M)
        if m and m.group(1).strip():
            seeds["case-" + os.path.basename(p)[:-5]] = m.group(1)
    for name in ("f_session", "f_decode"):
        with open(os.path.join(TOP, "regress/fuzz", name + ".c")) as f:
            m = re.search(r"fuzz_conf\[\] =\n(.*?);\n", f.read(), re.S)
        text = "".join(eval(s) for s in re.findall(r'^\t"(?:[^"\\]|\\.)*"$',
                                                   m.group(1), re.M))
        seeds["harness-" + name[2:]] = text.encode()
    # The input is fuzz.conf in a directory of its own.
    seeds["include-self"] = (b'# includes itself, down to the nesting limit\n'
                             b'include("fuzz.conf", warn)\n'
                             b'filter f { match = { \'header_subject:x\' } '
                             b'action = reject }\n')
    seeds["include-glob"] = (b'include("*.conf")\ninclude("none.d/*.conf", log)'
                             b'\ninclude("missing.conf")\n')
    seeds["official"] = (b'filter phish_x {\n\tmatch = { \'decode_from:x\' }\n'
                         b'\taction = reject\n}\nofficial phish_x {\n'
                         b'\tdomains = { "x.example", "y.example" }\n}\n'
                         b'skip_senders += { "a@b.example", "c.example" }\n'
                         b'skip_networks += { "192.0.2.0/24", '
                         b'"2001:db8::/32" }\n')
    seeds["refused"] = (b'listen = { "inet:127.0.0.1:1", "unix:/x" }\n'
                        b'min_spare = 9\nmax_spare = 2\n'
                        b'max_message_size = 10G\n'
                        b'filter bad { match = { \'header_subject:(\' }\n'
                        b'action = reject }\n')
    seeds["unterminated"] = b'subject_prefix = "[x]" # "\n/* unterminated'
    write_all(d, seeds)


def write_all(d, seeds):
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


session_seeds()
decode_seeds()
config_seeds()
