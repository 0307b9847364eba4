#!/usr/bin/env python3
#
# Writes the messages of regress/decode/msgs, once, at development time:
# the .eml files are kept as they came out, bytes and all (legacy
# charsets through Python's codecs, which agree with iconv on these
# texts).  Not run by the tests.  To add a message, add it here and run
#	python3 mkmsgs.py regress/decode/msgs
# then check with git diff that the others did not change.
import base64, os, quopri, re, sys

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def b64w(cs, text, codec=None):
    return "=?%s?B?%s?=" % (cs, base64.b64encode(text.encode(codec or cs)).decode())


def b64body(data, width=76):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + width] for i in range(0, len(s), width)) + "\n"


def head(what, subject, extra=b"", frm=b"Sender <sender@example.org>",
         to=b"<rcpt@example.net>"):
    if isinstance(subject, str):
        subject = subject.encode()
    if isinstance(extra, str):
        extra = extra.encode()
    if isinstance(frm, str):
        frm = frm.encode()
    if isinstance(to, str):
        to = to.encode()
    return (b"Return-Path: <bounce@example.org>\n"
            b"From: " + frm + b"\n"
            b"To: " + to + b"\n"
            b"Subject: " + subject + b"\n"
            b"Date: Sun, 22 Nov 2026 10:00:00 +0000\n"
            b"Message-ID: <" + what.replace(" ", "-").encode() + b"@example.org>\n"
            b"X-Fixture: " + what.encode() + b"\n"
            b"MIME-Version: 1.0\n" + extra)


def write(name, data):
    if isinstance(data, str):
        data = data.encode()
    data = re.sub(rb"Message-ID: <[^>\n]*>", b"Message-ID: <" +
                  name.encode() + b"@example.org>", data, count=1)
    with open(os.path.join(OUT, name + ".eml"), "wb") as f:
        f.write(data)


def plain(name, what, subject, body, ctype="text/plain; charset=utf-8",
          cte="8bit", **kw):
    if isinstance(body, str):
        body = body.encode()
    extra = ("Content-Type: %s\nContent-Transfer-Encoding: %s\n" %
             (ctype, cte)) if ctype else ""
    write(name, head(what, subject, extra, **kw) + b"\n" + body)


# --- RFC 2047 encoded words -------------------------------------------
plain("ew-b", "encoded word, B, UTF-8",
      b64w("UTF-8", "【重要】三菱UFJ銀行からのお知らせ"), b"Hello.\n")

plain("ew-q", "encoded words, Q, Latin-1 and UTF-8",
      "=?ISO-8859-1?Q?Votre_compte_=E0_v=E9rifier?=", b"Bonjour.\n",
      frm="=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>")

# Adjacent words joined with no space, also across a folded line, and a
# character split between two words (bytes joined before conversion).
gin = "銀".encode()
split = "=?UTF-8?B?%s?= =?UTF-8?B?%s?=" % (
    base64.b64encode(gin[:2]).decode(), base64.b64encode(gin[2:]).decode())
plain("ew-adjacent", "adjacent encoded words joined",
      "=?UTF-8?B?%s?= =?UTF-8?B?%s?=\n =?UTF-8?B?%s?= notice" % (
          base64.b64encode("三菱".encode()).decode(),
          base64.b64encode("UFJ".encode()).decode(),
          base64.b64encode("銀行".encode()).decode()),
      b"Hello.\n",
      frm="%s <split@example.org>" % split)

plain("ew-broken", "broken encoded words kept as text",
      "=?UTF-8?B?5LiJ6I+x without end, =?UTF-8?X?abc?= bad mode, "
      "=?utf-8?q?ok?= fine", b"Hello.\n")

# --- Japanese ---------------------------------------------------------
jis_body = "三菱UFJ銀行 カード会員様\nご利用確認のお願い\n".encode("iso2022_jp")
plain("jis", "ISO-2022-JP subject and body",
      b64w("ISO-2022-JP", "ご請求のお知らせ", "iso2022_jp"), jis_body,
      ctype="text/plain; charset=ISO-2022-JP", cte="7bit")

plain("sjis-undeclared", "Shift_JIS body without a charset",
      "undeclared", "お客様のアカウントが停止されました。\n".encode("cp932"),
      ctype="text/plain")

plain("sjis-cp932", "Shift_JIS label, CP932 characters",
      "cp932", "①ご確認ください～㈱三菱\n".encode("cp932"),
      ctype="text/plain; charset=Shift_JIS")

plain("sjis-as-jis", "Shift_JIS bytes labelled ISO-2022-JP",
      "mislabelled", "楽天市場からのご案内です。\n".encode("cp932"),
      ctype="text/plain; charset=iso-2022-jp")

plain("eucjp", "EUC-JP body",
      "euc-jp", "楽天カード株式会社よりお知らせ\n".encode("euc_jp"),
      ctype="text/plain; charset=EUC-JP")

# --- Chinese, Korean, Cyrillic, Latin ----------------------------------
plain("gb2312", "GB2312 subject and base64 body",
      b64w("GB2312", "账户冻结通知", "gb2312"),
      b64body("您的账户已被冻结，请立即验证。\n".encode("gb2312")),
      ctype="text/plain; charset=gb2312", cte="base64")

plain("big5", "Big5 body, quoted-printable",
      "big5",
      quopri.encodestring("您的帳戶已被凍結\n".encode("big5")),
      ctype="text/plain; charset=big5", cte="quoted-printable")

plain("euckr", "EUC-KR body",
      "euc-kr", "고객님의 계정이 정지되었습니다\n".encode("euc_kr"),
      ctype='text/plain; charset="euc-kr"')

plain("utf16le", "UTF-16LE body in base64",
      "utf-16le",
      b64body("PayPal アカウント確認\r\nhttps://utf16.example/verify\r\n"
              .encode("utf-16-le")),
      ctype="text/plain; charset=utf-16le", cte="base64")

plain("koi8r", "KOI8-R body",
      "koi8-r", "Ваш аккаунт заблокирован\n".encode("koi8_r"),
      ctype="text/plain; charset=koi8-r")

plain("cp1251", "windows-1251 body in base64",
      "=?windows-1251?B?%s?=" % base64.b64encode(
          "Сбербанк".encode("cp1251")).decode(),
      b64body("Сбербанк: подтвердите вход\n".encode("cp1251")),
      ctype="text/plain; charset=windows-1251", cte="base64")

plain("cp1252-as-latin1", "windows-1252 quotes labelled ISO-8859-1",
      "cp1252", b"\x93Urgent\x94 \x96 pay \x80" b"100 now\x85\n",
      ctype="text/plain; charset=iso-8859-1")

plain("latin1-undeclared", "undeclared 8-bit, neither UTF-8 nor Japanese",
      "latin1", b"Votre facture \x93impay\xe9e\x94 \xe0 r\xe9gler.\n",
      ctype=None)

plain("utf8-as-ascii", "UTF-8 labelled us-ascii",
      "ascii label", "Ваш банк: 三菱UFJ\n".encode(),
      ctype="text/plain; charset=us-ascii")

# --- raw 8-bit headers ------------------------------------------------
plain("raw-subject-utf8", "raw UTF-8 Subject",
      "【緊急】アカウント確認".encode(), b"Hello.\n")

plain("raw-subject-sjis", "raw Shift_JIS Subject",
      "【緊急】アカウント確認のお願い".encode("cp932"), b"Hello.\n")

# --- normalisation ----------------------------------------------------
disguised = ("Ｍ\u200bＵ\u200cＦ\u2060Ｇ ﾊﾞﾝｸ\u202e サポート\u00ad\ufe0f")
plain("from-disguise", "fullwidth, halfwidth, invisible chars in a name",
      "Pa\u0336y\u0337pal\u00a0\u3000security   alert".encode(),
      b"Hello.\n",
      frm="%s <support@phish.example>" % b64w("UTF-8", disguised))

# --- transfer encodings -----------------------------------------------
text = b"Your account has been suspended. Verify at http://b64.example/login\n"
enc = base64.b64encode(text).decode().rstrip("=")
broken = enc[:20] + "*!" + enc[20:40] + "\n" + enc[40:60] + " \t\n" + \
    enc[60:]
plain("b64-broken", "base64 with broken padding and stray characters",
      "base64", broken.encode() + b"\n",
      ctype="text/plain; charset=us-ascii", cte="base64")

plain("qp", "quoted-printable: soft breaks, a bad =XY",
      "qp",
      b"=E4=B8=89=E8=8F=B1UFJ=\n=E9=8A=80=E8=A1=8C fee =XY 100=25 =3D=\n"
      b" done\nnext=20line\n",
      ctype="text/plain; charset=utf-8", cte="quoted-printable")

# --- structure --------------------------------------------------------
plain("alternative", "multipart/alternative",
      "alternative",
      b"--ALT\n"
      b"Content-Type: text/plain; charset=utf-8\n\n"
      b"Plain part: visit https://plain.example/a\n"
      b"--ALT\n"
      b"Content-Type: text/html; charset=utf-8\n\n"
      b"<p>HTML part <a href=\"https://html.example/b\">click</a></p>\n"
      b"--ALT--\n",
      ctype='multipart/alternative; boundary="ALT"', cte="7bit")

plain("html-only", "HTML only, rendered into decode_text",
      "html only",
      b"<html><head><style>p { color: red }</style>"
      b"<title>Notice</title></head>\n<body>\n"
      b"<p>Dear customer,</p>\n"
      b"<div style=\"display:none\">hidden bait words</div>\n"
      b"<!-- <a href=\"http://comment.example/x\">x</a> -->\n"
      b"<p>Please <a href=\"https://render.example/login\">sign in</a>"
      b" now.</p>\n</body></html>\n",
      ctype="text/html; charset=utf-8")

plain("html-refs", "character references in decode_html",
      "refs",
      b"<p>&#x4E09;&#x83F1;UFJ&#37504;&#34892; &amp; &lt;b&gt; "
      b"caf&eacute; &copy; &#X307F;</p>\n",
      ctype="text/html; charset=utf-8")

plain("urls", "URLs in href, src and bare links; their hosts",
      "urls",
      b"--MIX\n"
      b"Content-Type: text/plain; charset=utf-8\n\n"
      b"Go to HTTPS://Admin:Secret@Login.EXAMPLE.com:8443/path?q=1 today.\n"
      b"--MIX\n"
      b"Content-Type: text/html; charset=utf-8\n\n"
      b"<a href=\"http://user@Href.Example.NET:80/a\">a</a>"
      b"<img src=\"https://IMG.example.org/i.png\">\n"
      b"--MIX--\n",
      ctype='multipart/mixed; boundary="MIX"', cte="7bit")

plain("rfc2231", "RFC 2231 file names, continuations; attachment types",
      "rfc2231",
      b"--B\n"
      b"Content-Type: text/plain; charset=utf-8\n\n"
      b"See attached.\n"
      b"--B\n"
      b"Content-Type: application/pdf\n"
      b"Content-Disposition: attachment;\n"
      b" filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8.pdf\n"
      b"Content-Transfer-Encoding: base64\n\n"
      b"JVBERi0xLjQK\n"
      b"--B\n"
      b"Content-Type: application/zip\n"
      b"Content-Disposition: attachment;\n"
      b" filename*0*=UTF-8''%E3%81%94%E8%AB%8B;\n"
      b" filename*1*=%E6%B1%82.zip\n"
      b"Content-Transfer-Encoding: base64\n\n"
      b"UEsDBA==\n"
      b"--B\n"
      b"Content-Type: text/html; charset=utf-8\n"
      b"Content-Disposition: attachment;\n"
      b" filename*0=\"long_\";\n"
      b" filename*1=\"name.html\"\n\n"
      b"<p>attached page</p>\n"
      b"--B--\n",
      ctype='multipart/mixed; boundary="B"', cte="7bit")

plain("rfc2047-filename", "RFC 2047 encoded file names",
      "rfc2047 filename",
      ("--B\n"
       "Content-Type: text/plain; charset=utf-8\n\n"
       "See attached.\n"
       "--B\n"
       "Content-Type: application/octet-stream; name=\"%s\"\n"
       "Content-Disposition: attachment; filename=\"%s\"\n"
       "Content-Transfer-Encoding: base64\n\n"
       "TVqQAA==\n"
       "--B\n"
       "Content-Type: application/x-msdownload; name=\"%s\"\n"
       "Content-Transfer-Encoding: base64\n\n"
       "TVqQAA==\n"
       "--B--\n" % (b64w("UTF-8", "請求書.exe"), b64w("UTF-8", "請求書.exe"),
                    b64w("ISO-2022-JP", "明細.scr", "iso2022_jp"))).encode(),
      ctype='multipart/mixed; boundary="B"', cte="7bit")

plain("nested-rfc822", "message/rfc822 inside multipart/mixed",
      "outer subject",
      b"--OUT\n"
      b"Content-Type: text/plain; charset=utf-8\n\n"
      b"Outer text.\n"
      b"--OUT\n"
      b"Content-Type: message/rfc822\n\n"
      b"From: Inner <inner@example.org>\n"
      b"Subject: inner subject\n"
      b"MIME-Version: 1.0\n"
      b"Content-Type: multipart/alternative; boundary=\"IN\"\n\n"
      b"--IN\n"
      b"Content-Type: text/plain; charset=iso-2022-jp\n\n" +
      "内側の本文 https://inner.example/p\n".encode("iso2022_jp") +
      b"--IN\n"
      b"Content-Type: text/html; charset=utf-8\n\n"
      b"<p>inner <a href=\"https://inner-html.example/\">html</a></p>\n"
      b"--IN--\n"
      b"--OUT--\n",
      ctype='multipart/mixed; boundary="OUT"', cte="7bit")

write("addresses",
      head("address lists and groups", "addresses", b"",
           frm=b"\"Support, MUFG\" <support@phish.example>",
           to=b"Undisclosed recipients:;, a@example.net,\n"
              b" \"B. User\" <b@example.net>") +
      ("Cc: Team: c1@example.net, %s <c2@example.net>;, d@example.net\n"
       "Reply-To: %s <reply@phish.example>\n"
       "Content-Type: text/plain; charset=utf-8\n\nHello.\n" % (
           b64w("UTF-8", "山田 太郎"),
           b64w("ISO-2022-JP", "三菱ＵＦＪ銀行", "iso2022_jp"))).encode())

plain("strip", "whitespace = strip against collapse",
      "strip", "三菱 UFJ 銀行 からのお知らせ\n".encode())

# CRLF line ends all through, as an MTA's queue file or a Windows client.
crlf = (head("CRLF line ends", b64w("UTF-8", "CRLF の件名")) +
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n"
        b"line one=\nline two =E3=81=82\n")
write("crlf", crlf.replace(b"\n", b"\r\n"))

# A display name that is one quoted encoded word, as much phishing sends.
write("ew-quoted",
      head("quoted encoded word as display name", "quoted", b"",
           frm=('"%s" <info@phish.example>' %
                b64w("UTF-8", "三菱UFJ銀行")).encode()) +
      b"X-Ctl: a\x01b\tc\n"
      b"Content-Type: text/plain; charset=utf-8\n\nHello.\n")

# A text/plain part that is an attachment, and a nameless attachment.
plain("attached-text", "text attachments are read as text too",
      "attached text",
      b"--B\n"
      b"Content-Type: text/plain; charset=utf-8\n\n"
      b"Body text.\n"
      b"--B\n"
      b"Content-Type: text/plain; charset=utf-8; name=\"note.txt\"\n"
      b"Content-Disposition: attachment\n\n"
      b"Attached note with https://note.example/x\n"
      b"--B\n"
      b"Content-Type: image/png\n"
      b"Content-Transfer-Encoding: base64\n\n"
      b"iVBORw0KGgo=\n"
      b"--B--\n",
      ctype='multipart/mixed; boundary="B"', cte="7bit")

# Q encoded words with a bad "=XY" (kept) and "_" (a space).
plain("ew-q-bad", "Q encoded word with a bad =XY",
      "=?UTF-8?Q?100=25_=XY_s=C3=BBr?=", b"Hello.\n")
