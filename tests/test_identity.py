"""Normalization vectors and properties for the dedup keys: emails and LinkedIn profile URLs."""

from __future__ import annotations

import string
import unicodedata
from urllib.parse import quote, unquote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from leads.domain.identity import InvalidIdentity, normalize_email, normalize_linkedin_url

PROFILE = "https://www.linkedin.com/in/"


@pytest.fixture(scope="module", autouse=True)
def empty_tables():
    """These are pure functions: override conftest's per-test table wipe, so no database starts."""
    yield


def rejection(normalize, value: str) -> str:
    with pytest.raises(InvalidIdentity) as caught:
        normalize(value)
    return str(caught.value)


# ---------------------------------------------------------------------------------------------
# LinkedIn profile URLs: vectors
# ---------------------------------------------------------------------------------------------

LINKEDIN_VALID = [
    # Scheme: optional, http and https both become https, any case.
    ("https://www.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("http://www.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("HTTPS://www.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("HtTp://www.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("www.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("//www.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    # Trimming (ASCII and Unicode white space around the URL).
    ("  https://www.linkedin.com/in/john-doe  ", PROFILE + "john-doe"),
    ("\t\nhttps://www.linkedin.com/in/john-doe\r\n", PROFILE + "john-doe"),
    ("\u00a0https://www.linkedin.com/in/john-doe\u2003", PROFILE + "john-doe"),
    # Hosts: bare, www., country, mobile; any case; a trailing root dot.
    ("https://linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("https://uk.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("https://de.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("https://in.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("https://m.linkedin.com/in/john-doe", PROFILE + "john-doe"),
    ("https://WWW.LinkedIn.COM/in/john-doe", PROFILE + "john-doe"),
    ("https://UK.LINKEDIN.COM/in/john-doe", PROFILE + "john-doe"),
    ("https://www.linkedin.com./in/john-doe", PROFILE + "john-doe"),
    # Ports: only the default ones, which are dropped.
    ("https://www.linkedin.com:443/in/john-doe", PROFILE + "john-doe"),
    ("http://www.linkedin.com:80/in/john-doe", PROFILE + "john-doe"),
    ("linkedin.com:443/in/john-doe", PROFILE + "john-doe"),
    # Query string and fragment dropped.
    ("https://www.linkedin.com/in/john-doe?trk=public_profile", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe/?originalSubdomain=uk", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe#experience", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe?a=1&b=2#top", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe?", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe#", PROFILE + "john-doe"),
    ("linkedin.com/in/john-doe?next=https://example.org/", PROFILE + "john-doe"),
    ("linkedin.com/in/john-doe#https://example.org/", PROFILE + "john-doe"),
    # Trailing slashes and empty segments.
    ("https://www.linkedin.com/in/john-doe/", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe///", PROFILE + "john-doe"),
    ("https://www.linkedin.com//in//john-doe", PROFILE + "john-doe"),
    # Sub-pages after /in/<slug> dropped.
    ("https://www.linkedin.com/in/john-doe/en", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe/de/", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe/recent-activity/all/", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe/recent-activity/shares/", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe/details/experience/", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/john-doe/overlay/contact-info/", PROFILE + "john-doe"),
    # Slug and path keyword case-insensitive.
    ("https://www.linkedin.com/in/John-Doe", PROFILE + "john-doe"),
    ("https://www.linkedin.com/in/JOHN-DOE", PROFILE + "john-doe"),
    ("https://www.linkedin.com/IN/john-doe", PROFILE + "john-doe"),
    ("https://www.linkedin.com/%69n/john-doe", PROFILE + "john-doe"),
    # Slug characters: letters, digits, '-', '_', '.'; unreserved escapes are decoded.
    ("https://www.linkedin.com/in/john-doe-1a2b3c4d", PROFILE + "john-doe-1a2b3c4d"),
    ("https://www.linkedin.com/in/john_doe.42", PROFILE + "john_doe.42"),
    ("https://www.linkedin.com/in/j%6Fhn", PROFILE + "john"),
    ("https://www.linkedin.com/in/john%2Ddoe", PROFILE + "john-doe"),
    # Non-ASCII slugs: stored percent-encoded (upper-case hex) as UTF-8 of the NFC form.
    ("https://de.linkedin.com/in/j%C3%B6rg", PROFILE + "j%C3%B6rg"),
    ("https://de.linkedin.com/in/j%c3%b6rg", PROFILE + "j%C3%B6rg"),
    ("https://de.linkedin.com/in/jörg", PROFILE + "j%C3%B6rg"),
    ("https://de.linkedin.com/in/jo\u0308rg", PROFILE + "j%C3%B6rg"),
    ("https://de.linkedin.com/in/jo%CC%88rg", PROFILE + "j%C3%B6rg"),
    ("https://de.linkedin.com/in/JÖRG", PROFILE + "j%C3%B6rg"),
    ("https://de.linkedin.com/in/J%C3%96RG", PROFILE + "j%C3%B6rg"),
    ("https://www.linkedin.com/in/王伟", PROFILE + "%E7%8E%8B%E4%BC%9F"),
    ("https://www.linkedin.com/in/محمد", PROFILE + "%D9%85%D8%AD%D9%85%D8%AF"),
    ("https://www.linkedin.com/in/अमित", PROFILE + "%E0%A4%85%E0%A4%AE%E0%A4%BF%E0%A4%A4"),
    ("https://www.linkedin.com/in/%C3%9F", PROFILE + "%C3%9F"),
    # Legacy /pub/<name>/<a>/<b>/<c>: the same host/scheme/case/query/sub-page rules.
    (
        "https://www.linkedin.com/pub/john-doe/1a/2b/3c",
        "https://www.linkedin.com/pub/john-doe/1a/2b/3c",
    ),
    (
        "http://uk.linkedin.com/pub/John-Doe/1A/2B/3C/",
        "https://www.linkedin.com/pub/john-doe/1a/2b/3c",
    ),
    (
        "linkedin.com/PUB/john-doe/12/345/678?trk=x#y",
        "https://www.linkedin.com/pub/john-doe/12/345/678",
    ),
    (
        "https://www.linkedin.com/pub/john-doe/1a/2b/3c/en",
        "https://www.linkedin.com/pub/john-doe/1a/2b/3c",
    ),
    (
        "https://www.linkedin.com/pub/j%C3%B6rg/0/1/2",
        "https://www.linkedin.com/pub/j%C3%B6rg/0/1/2",
    ),
]

# (input, the exact reason InvalidIdentity carries)
NOT_PROFILE = "linkedin_url is not a profile URL (expected /in/<profile>)"
NOT_LINKEDIN_HOST = "linkedin_url is not on a LinkedIn host"
NOT_HTTP = "linkedin_url must be an http(s) URL"
USERINFO = "linkedin_url must not carry user information"
PORT = "linkedin_url must not name a port"
BAD_URL = "linkedin_url is not a valid URL"
SPACE = "linkedin_url contains white space or control characters"
SLUG_CHARS = "linkedin_url profile name may hold only letters, digits, '-', '_' and '.'"
NO_ALNUM = "linkedin_url profile name has no letter or digit"
DOT_SEGMENT = "linkedin_url must not hold '.' or '..' path segments"
EMPTY_OR_LONG_SLUG = "linkedin_url has an empty or overlong profile name"

LINKEDIN_INVALID = [
    # Empty.
    ("", "linkedin_url is empty"),
    ("   \t\n", "linkedin_url is empty"),
    # Not a person's profile.
    ("https://www.linkedin.com/company/acme", NOT_PROFILE),
    ("https://www.linkedin.com/company/acme/people/", NOT_PROFILE),
    ("https://www.linkedin.com/school/mit/", NOT_PROFILE),
    ("https://www.linkedin.com/showcase/acme-labs", NOT_PROFILE),
    ("https://www.linkedin.com/feed/", NOT_PROFILE),
    ("https://www.linkedin.com/feed/update/urn:li:activity:7100000000000000000/", NOT_PROFILE),
    (
        "https://www.linkedin.com/posts/john-doe_launch-activity-7100000000000000000-abcd",
        NOT_PROFILE,
    ),
    ("https://www.linkedin.com/pulse/my-article-john-doe", NOT_PROFILE),
    ("https://www.linkedin.com/groups/12345/", NOT_PROFILE),
    ("https://www.linkedin.com/jobs/view/123456/", NOT_PROFILE),
    ("https://www.linkedin.com/sales/people/ACwAAA", NOT_PROFILE),
    ("https://www.linkedin.com/mwlite/in/john-doe", NOT_PROFILE),
    ("https://www.linkedin.com/", NOT_PROFILE),
    ("https://www.linkedin.com", NOT_PROFILE),
    ("linkedin.com", NOT_PROFILE),
    ("https://www.linkedin.com/in", NOT_PROFILE),
    ("https://www.linkedin.com/in/", NOT_PROFILE),
    ("https://www.linkedin.com/in/?id=john-doe", NOT_PROFILE),
    ("https://www.linkedin.com/in#john-doe", NOT_PROFILE),
    # Legacy directory pages and malformed /pub/ URLs.
    ("https://www.linkedin.com/pub/dir/john/doe", NOT_PROFILE),
    ("https://www.linkedin.com/pub/dir/1a/2b/3c", NOT_PROFILE),
    ("https://www.linkedin.com/pub/DIR/john/doe/x", NOT_PROFILE),
    ("https://www.linkedin.com/pub/john-doe", NOT_PROFILE),
    ("https://www.linkedin.com/pub/john-doe/1a/2b", NOT_PROFILE),
    (
        "https://www.linkedin.com/pub/john-doe/1a2b/2b/3c",
        "linkedin_url is not a valid legacy /pub/ profile URL",
    ),
    (
        "https://www.linkedin.com/pub/john-doe/1a/2-b/3c",
        "linkedin_url is not a valid legacy /pub/ profile URL",
    ),
    # Other hosts and look-alikes.
    ("https://example.org/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://lnkd.in/abc123", NOT_LINKEDIN_HOST),
    ("https://linkedin.com.example.org/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://www.linkedin.com.evil.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://evil-linkedin.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://evillinkedin.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://linkedin.co/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://linkedin.com.co/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://linked-in.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://xn--linkedn-xxx.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://www.xn--lnkedin-7ya.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://xn--80ak6aa92e.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://lіnkedin.com/in/john-doe", NOT_LINKEDIN_HOST),  # Cyrillic "і"
    ("https://ｌｉｎｋｅｄｉｎ.com/in/john-doe", NOT_LINKEDIN_HOST),  # fullwidth
    ("https://mobile.linkedin.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://www.uk.linkedin.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://.linkedin.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://www..linkedin.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://linkedin.com../in/john-doe", NOT_LINKEDIN_HOST),
    ("https://%77ww.linkedin.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://www.linkedin.com%2Eevil.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://127.0.0.1/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://[::1]/in/john-doe", NOT_LINKEDIN_HOST),
    ("http:///www.linkedin.com/in/john-doe", NOT_LINKEDIN_HOST),
    ("https://www.linkedin.com\\in\\john-doe", NOT_LINKEDIN_HOST),
    ("/in/john-doe", NOT_LINKEDIN_HOST),
    ("in/john-doe", NOT_LINKEDIN_HOST),
    # User information: the real host is after the "@".
    ("https://linkedin.com@evil.com/in/john-doe", USERINFO),
    ("https://www.linkedin.com:443@evil.com/in/john-doe", USERINFO),
    ("https://evil.com@www.linkedin.com/in/john-doe", USERINFO),
    ("https://user:password@www.linkedin.com/in/john-doe", USERINFO),
    ("https://@www.linkedin.com/in/john-doe", USERINFO),
    ("https://www.linkedin.com%2F@evil.com/in/john-doe", USERINFO),
    ("https://www.linkedin.com\\@evil.com/in/john-doe", USERINFO),
    ("linkedin.com@evil.com/in/john-doe", USERINFO),
    # Schemes other than http(s).
    ("ftp://www.linkedin.com/in/john-doe", NOT_HTTP),
    ("ws://www.linkedin.com/in/john-doe", NOT_HTTP),
    ("file:///in/john-doe", NOT_HTTP),
    ("javascript:alert(1)//www.linkedin.com/in/john-doe", NOT_HTTP),
    ("mailto:john@linkedin.com", NOT_HTTP),
    ("data:text/html,linkedin.com/in/john-doe", NOT_HTTP),
    ("https:www.linkedin.com/in/john-doe", NOT_HTTP),
    ("https:/www.linkedin.com/in/john-doe", NOT_HTTP),
    ("httpx://www.linkedin.com/in/john-doe", NOT_HTTP),
    ("localhost:8080/in/john-doe", NOT_HTTP),
    # Ports other than 80 and 443; ports that do not parse.
    ("https://www.linkedin.com:8443/in/john-doe", PORT),
    ("linkedin.com:8080/in/john-doe", PORT),
    ("https://www.linkedin.com:0/in/john-doe", PORT),
    ("https://www.linkedin.com:65535/in/john-doe", PORT),
    ("https://www.linkedin.com:65536/in/john-doe", BAD_URL),
    ("https://www.linkedin.com:-443/in/john-doe", BAD_URL),
    ("https://www.linkedin.com:+443/in/john-doe", BAD_URL),
    ("https://www.linkedin.com:٤٤٣/in/john-doe", BAD_URL),
    ("https://www.linkedin.com:443:443/in/john-doe", BAD_URL),
    ("https://www.linkedin.com:https/in/john-doe", BAD_URL),
    ("https://[www.linkedin.com]/in/john-doe", BAD_URL),
    # White space and control characters inside (urlsplit would silently drop tabs/newlines).
    ("https://www.linkedin.com/in/john doe", SPACE),
    ("https://www.linkedin.com/in/john\tdoe", SPACE),
    ("https://www.link\nedin.com/in/john-doe", SPACE),
    ("https://www.linkedin.com/in/john\x00doe", SPACE),
    ("https://www.linkedin.com/in/john\x7fdoe", SPACE),
    ("https://www.linkedin.com/in/john\u00a0doe", SPACE),
    ("https://www.linkedin.com/in/john-doe\ud800", SPACE),
    ("https:// www.linkedin.com/in/john-doe", SPACE),
    ("https://www.linkedin.com/in/john-doe?q=a b", SPACE),
    # Dot segments: a browser would resolve them to another page.
    ("https://www.linkedin.com/in/..", DOT_SEGMENT),
    ("https://www.linkedin.com/in/.", DOT_SEGMENT),
    ("https://www.linkedin.com/in/%2e%2E", DOT_SEGMENT),
    ("https://www.linkedin.com/in/john-doe/../../company/acme", DOT_SEGMENT),
    ("https://www.linkedin.com/company/../in/john-doe", DOT_SEGMENT),
    ("https://www.linkedin.com/in/./john-doe", DOT_SEGMENT),
    # Slugs: allowed characters, at least one letter or digit, UTF-8 escapes only.
    ("https://www.linkedin.com/in/john%20doe", SLUG_CHARS),
    ("https://www.linkedin.com/in/john%2Fdoe", SLUG_CHARS),
    ("https://www.linkedin.com/in/john%3Fdoe", SLUG_CHARS),
    ("https://www.linkedin.com/in/john%23doe", SLUG_CHARS),
    ("https://www.linkedin.com/in/john%00", SLUG_CHARS),
    ("https://www.linkedin.com/in/john;jsessionid=1", SLUG_CHARS),
    ("https://www.linkedin.com/in/john:doe", SLUG_CHARS),
    ("https://www.linkedin.com/in/john+doe", SLUG_CHARS),
    ("https://www.linkedin.com/in/john%", SLUG_CHARS),
    ("https://www.linkedin.com/in/john%zz", SLUG_CHARS),
    ("https://www.linkedin.com/in/john\u200bdoe", SLUG_CHARS),
    ("https://www.linkedin.com/in/john%E2%80%AEdoe", SLUG_CHARS),
    ("https://www.linkedin.com/in/john\\doe", SLUG_CHARS),
    ("https://www.linkedin.com/in/-", NO_ALNUM),
    ("https://www.linkedin.com/in/_-_", NO_ALNUM),
    ("https://www.linkedin.com/in/...", NO_ALNUM),
    ("https://www.linkedin.com/in/%CC%88", NO_ALNUM),
    ("https://www.linkedin.com/in/john%FF", "linkedin_url has percent-escapes that are not UTF-8"),
    ("https://www.linkedin.com/in/%C3", "linkedin_url has percent-escapes that are not UTF-8"),
    (
        "https://www.linkedin.com/in/%ED%A0%80",
        "linkedin_url has percent-escapes that are not UTF-8",
    ),
    # Length: 512 characters of input (after trimming), 200 of slug, 512 once encoded.
    (PROFILE + "a" * 201, EMPTY_OR_LONG_SLUG),
    (
        PROFILE + "john-doe?" + "q" * (513 - len(PROFILE + "john-doe?")),
        "linkedin_url is longer than 512 characters",
    ),
    (PROFILE + "ö" * 81, "linkedin_url is longer than 512 characters once encoded"),
    (PROFILE + "王" * 54, "linkedin_url is longer than 512 characters once encoded"),
]


class TestNormalizeLinkedinUrl:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            # Exactly 512 characters of input, the query string making up the length.
            (
                PROFILE + "john-doe?" + "q" * (512 - len(PROFILE + "john-doe?")),
                PROFILE + "john-doe",
            ),
            # 512 characters once trimmed, with white space around.
            (
                "  " + PROFILE + "john-doe#" + "f" * (512 - len(PROFILE + "john-doe#")) + "  ",
                PROFILE + "john-doe",
            ),
            # A 200-character slug.
            (PROFILE + "a" * 200, PROFILE + "a" * 200),
            # 80 "ö" encode to 480 characters: a 508-character key.
            (PROFILE + "ö" * 80, PROFILE + "%C3%B6" * 80),
        ],
        ids=["input-512", "trimmed-512", "slug-200", "encoded-508"],
    )
    def test_length_limits_admit_the_maximum(self, value, expected):
        assert normalize_linkedin_url(value) == expected
        assert len(expected) <= 512

    @pytest.mark.parametrize(
        "spellings",
        [
            [
                "https://www.linkedin.com/in/jörg-müller",
                "http://de.linkedin.com/in/J%C3%B6RG-M%C3%BCLLER/",
                "de.linkedin.com/in/j%c3%b6rg-m%c3%bcller?trk=x",
                "//m.linkedin.com/in/JO\u0308RG-MU\u0308LLER/recent-activity/all/",
                "HTTPS://LINKEDIN.COM/in/jo%CC%88rg-mu%CC%88ller/details/experience/#x",
                "  https://www.linkedin.com:443/in/JÖRG-MÜLLER/en  ",
            ],
            [
                "https://www.linkedin.com/pub/jane-roe/1b/22/333",
                "http://UK.linkedin.com/pub/Jane-Roe/1B/22/333/",
                "linkedin.com/pub/JANE-ROE/1b/22/333/en?trk=pub#top",
            ],
        ],
        ids=["in-unicode", "pub"],
    )
    def test_spellings_of_one_profile_share_one_key(self, spellings):
        assert len({normalize_linkedin_url(spelling) for spelling in spellings}) == 1

    def test_in_and_pub_urls_of_one_person_are_different_keys(self):
        # Nothing in a /pub/ URL says which /in/ slug it redirects to: they are kept apart.
        assert normalize_linkedin_url(
            "linkedin.com/pub/john-doe/1a/2b/3c"
        ) != normalize_linkedin_url("linkedin.com/in/john-doe")


# ---------------------------------------------------------------------------------------------
# Emails: vectors
# ---------------------------------------------------------------------------------------------

EMAIL_VALID = [
    ("john@example.com", "john@example.com"),
    ("John.Doe@Example.COM", "john.doe@example.com"),
    ("JOHN+Tag@EXAMPLE.COM", "john+tag@example.com"),
    ("  john@example.com  ", "john@example.com"),
    ("\tjohn@example.com\r\n", "john@example.com"),
    ("\u00a0john@example.com\u2003", "john@example.com"),
    ("a@b.co", "a@b.co"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("first_last-1@sub.mail.example.co.uk", "first_last-1@sub.mail.example.co.uk"),
    ("x!#$%&*/=?^`{|}~@example.com", "x!#$%&*/=?^`{|}~@example.com"),
    # Internationalized: lowercased, NFC; IDN domains in their Unicode form.
    ("JÖRG@EXAMPLE.COM", "jörg@example.com"),
    ("jo\u0308rg@example.com", "jörg@example.com"),
    ("user@EXÄMPLE.com", "user@exämple.com"),
    ("user@exa\u0308mple.com", "user@exämple.com"),
    ("user@xn--exmple-cua.com", "user@exämple.com"),
    ("user@XN--EXMPLE-CUA.COM", "user@exämple.com"),
    ("john@ｅｘａｍｐｌｅ.com", "john@example.com"),
    ("ΣΑΣ@example.gr", "σας@example.gr"),
    ("用户@例子.中国", "用户@例子.中国"),
    # A 64-character local part and a 254-character address.
    ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
    (
        "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com",
        "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com",
    ),
]

NOT_AN_EMAIL = "email is not a valid email address ({})"
SPECIAL_USE = (
    "The part after the @-sign is a special-use or reserved name that cannot be used with email."
)
EMAIL_INVALID = [
    ("", "email is empty"),
    ("   ", "email is empty"),
    ("\t\n", "email is empty"),
    ("john", NOT_AN_EMAIL.format("An email address must have an @-sign.")),
    ("john@", NOT_AN_EMAIL.format("There must be something after the @-sign.")),
    ("@example.com", NOT_AN_EMAIL.format("There must be something before the @-sign.")),
    (
        "john@@example.com",
        NOT_AN_EMAIL.format("The part after the @-sign contains invalid characters: '@'."),
    ),
    (
        "john@example",
        NOT_AN_EMAIL.format("The part after the @-sign is not valid. It should have a period."),
    ),
    (
        "john@localhost",
        NOT_AN_EMAIL.format("The part after the @-sign is not valid. It should have a period."),
    ),
    (
        "john doe@example.com",
        NOT_AN_EMAIL.format(
            "The email address contains invalid characters before the @-sign: SPACE."
        ),
    ),
    (
        "john@exa mple.com",
        NOT_AN_EMAIL.format("The part after the @-sign contains invalid characters: SPACE."),
    ),
    (
        "jo\nhn@example.com",
        NOT_AN_EMAIL.format(
            "The email address contains invalid characters before the @-sign: U+000A."
        ),
    ),
    (
        "john\u200b@example.com",
        NOT_AN_EMAIL.format("The email address contains unsafe characters: ZERO WIDTH SPACE."),
    ),
    (
        "jo\ud800hn@example.com",
        NOT_AN_EMAIL.format("The email address contains unsafe characters: U+D800."),
    ),
    (
        "jo\x00hn@example.com",
        NOT_AN_EMAIL.format(
            "The email address contains invalid characters before the @-sign: U+0000."
        ),
    ),
    (
        "john..doe@example.com",
        NOT_AN_EMAIL.format("An email address cannot have two periods in a row."),
    ),
    (".john@example.com", NOT_AN_EMAIL.format("An email address cannot start with a period.")),
    (
        "john.@example.com",
        NOT_AN_EMAIL.format("An email address cannot have a period immediately before the @-sign."),
    ),
    (
        "john@example..com",
        NOT_AN_EMAIL.format("An email address cannot have two periods in a row."),
    ),
    (
        "john@-example.com",
        NOT_AN_EMAIL.format("An email address cannot have a hyphen immediately after the @-sign."),
    ),
    ("john@example.com.", NOT_AN_EMAIL.format("An email address cannot end with a period.")),
    (
        '"john doe"@example.com',
        NOT_AN_EMAIL.format("Quoting the part before the @-sign is not allowed here."),
    ),
    (
        "john@[127.0.0.1]",
        NOT_AN_EMAIL.format("A bracketed IP address after the @-sign is not allowed here."),
    ),
    (
        "john@127.0.0.1",
        NOT_AN_EMAIL.format(
            "The part after the @-sign is not valid. It is not within a valid top-level domain."
        ),
    ),
    (
        "John Doe <john@example.com>",
        NOT_AN_EMAIL.format(
            "A display name and angle brackets around the email address are not permitted here."
        ),
    ),
    (
        "mailto:john@example.com",
        NOT_AN_EMAIL.format(
            "The email address contains invalid characters before the @-sign: ':'."
        ),
    ),
    (
        "john@example.invalid",
        NOT_AN_EMAIL.format(SPECIAL_USE),
    ),
    (
        "john@example.local",
        NOT_AN_EMAIL.format(SPECIAL_USE),
    ),
    # Length: 254 characters after trimming, then 254 UTF-8 bytes (email_validator's own rule).
    (
        "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".com",
        "email is longer than 254 characters",
    ),
    (
        "x@" + "a" * 64 + ".com",
        NOT_AN_EMAIL.format(
            "After the @-sign, periods cannot be separated by so many characters"
            " (1 character too many)."
        ),
    ),
    (
        "ö" * 64 + "@" + "b" * 63 + "." + "c" * 63 + ".com",
        NOT_AN_EMAIL.format("The email address is too long (3-6 characters too many)."),
    ),
]


def cases(tables: dict) -> list:
    """Each normalizer with each of its cases, as parameters (normalize, value, result)."""
    return [
        pytest.param(normalize, *case, id=f"{normalize.__name__}-{index}")
        for normalize, table in tables.items()
        for index, case in enumerate(table)
    ]


VALID = cases({normalize_linkedin_url: LINKEDIN_VALID, normalize_email: EMAIL_VALID})
INVALID = cases({normalize_linkedin_url: LINKEDIN_INVALID, normalize_email: EMAIL_INVALID})


class TestNormalizers:
    @pytest.mark.parametrize(("normalize", "value", "expected"), VALID)
    def test_canonical_form(self, normalize, value, expected):
        assert normalize(value) == expected

    @pytest.mark.parametrize(("normalize", "value", "expected"), VALID)
    def test_canonical_form_is_a_fixed_point(self, normalize, value, expected):
        assert normalize(expected) == expected

    @pytest.mark.parametrize(("normalize", "value", "reason"), INVALID)
    def test_rejected(self, normalize, value, reason):
        assert rejection(normalize, value) == reason


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None)

# Letters of several scripts. flip_case only flips a letter whose upper case lowercases back
# to it ("ß" uppercases to "SS", "ı" to "I"): other letters are left as they are.
SLUG_LETTERS = string.ascii_lowercase + string.digits + "äöüéèçñøåłğışžāēīœ王伟محمдуйअमित"
SLUG_ALPHABET = SLUG_LETTERS + "-_."


@st.composite
def slugs(draw) -> str:
    """A profile slug in canonical case and NFC, holding at least one letter or digit."""
    slug = draw(st.text(SLUG_ALPHABET, min_size=1, max_size=40))
    assume(slug not in (".", ".."))
    assume(any(char.isalnum() for char in slug))
    return unicodedata.normalize("NFC", slug.lower())


def flip_case(draw, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(
        char.upper() if flip and len(char.upper()) == 1 and char.upper().lower() == char else char
        for char, flip in zip(text, flips, strict=True)
    )


def spell_slug(draw, slug: str) -> str:
    """The slug as a user might paste it: case flipped, decomposed, percent-encoded, or not."""
    text = flip_case(draw, slug)
    if draw(st.booleans()):
        text = unicodedata.normalize("NFD", text)
    spelled = []
    for char in text:
        if draw(st.booleans()):
            escaped = quote(char, safe="")
            if escaped == char:
                escaped = f"%{ord(char):02X}"
            spelled.append(escaped.lower() if draw(st.booleans()) else escaped)
        else:
            spelled.append(char)
    return "".join(spelled)


HOSTS = [
    "linkedin.com",
    "www.linkedin.com",
    "m.linkedin.com",
    "uk.linkedin.com",
    "de.linkedin.com",
    "fr.linkedin.com",
]
SCHEMES = ["", "//", "http://", "https://", "HTTP://", "Https://"]
PORTS = ["", ":443", ":80"]
SUB_PAGES = [
    "",
    "/",
    "//",
    "/en",
    "/de/",
    "/recent-activity/all/",
    "/details/experience/",
    "/overlay/contact-info",
]
QUERIES = ["", "?", "?trk=public_profile", "?originalSubdomain=uk&lipi=urn%3Ali%3Apage"]
FRAGMENTS = ["", "#", "#experience"]
PADDING = ["", " ", "\t", "\n", "\u00a0 "]


@st.composite
def profile_spellings(draw) -> tuple[str, str]:
    """(slug, a URL spelling of https://www.linkedin.com/in/<slug>)."""
    slug = draw(slugs())
    url = "".join(
        [
            draw(st.sampled_from(PADDING)),
            draw(st.sampled_from(SCHEMES)),
            flip_case(draw, draw(st.sampled_from(HOSTS))),
            draw(st.sampled_from(PORTS)),
            "/" + flip_case(draw, "in") + "/",
            spell_slug(draw, slug),
            draw(st.sampled_from(SUB_PAGES)),
            draw(st.sampled_from(QUERIES)),
            draw(st.sampled_from(FRAGMENTS)),
            draw(st.sampled_from(PADDING)),
        ]
    )
    return slug, url


@st.composite
def pub_spellings(draw) -> tuple[str, str]:
    """(canonical /pub/ key, a URL spelling of it)."""
    slug = draw(slugs())
    assume(slug != "dir")  # /pub/dir/... is the people directory, not a profile
    ids = draw(
        st.lists(st.text("0123456789abcdef", min_size=1, max_size=3), min_size=3, max_size=3)
    )
    canonical = "https://www.linkedin.com/pub/" + "/".join([quote(slug, safe="-_."), *ids])
    url = "".join(
        [
            draw(st.sampled_from(SCHEMES)),
            flip_case(draw, draw(st.sampled_from(HOSTS))),
            "/" + flip_case(draw, "pub") + "/",
            spell_slug(draw, slug),
            "/" + "/".join(flip_case(draw, part) for part in ids),
            draw(st.sampled_from(SUB_PAGES)),
            draw(st.sampled_from(QUERIES)),
            draw(st.sampled_from(FRAGMENTS)),
        ]
    )
    return canonical, url


# Characters that commonly trip URL and email code, drawn often so that a few hundred
# examples meet them: lone surrogates (JSON can carry "\ud800"), NUL, combining marks,
# characters that lowercase to two ("İ") or NFKC-fold into URL delimiters ("／", "＠").
TRICKY_CHARACTERS = "\ud800\udfff\x00\x7f\u0308\u200b\ufeff\u2028İıſKΣßöÖ王／＠：%"


def any_text(extra: str = "", max_size: int = 60) -> st.SearchStrategy[str]:
    """Any text, surrogates included, often holding the tricky characters and `extra`."""
    # Not st.text(): it drops surrogates from an alphabet given as a strategy.
    character = st.one_of(
        st.characters(exclude_categories=()), st.sampled_from(TRICKY_CHARACTERS + extra)
    )
    return st.lists(character, max_size=max_size).map("".join)


URL_PREFIXES = [
    "",
    "https://",
    "http://www.linkedin.com",
    "https://www.linkedin.com/",
    "linkedin.com/in/",
    "https://uk.linkedin.com/in/",
    "https://www.linkedin.com/pub/",
    "https://www.linkedin.com:",
    "https://www.linkedin.com@",
]


@st.composite
def url_like_text(draw) -> str:
    """Arbitrary text, often behind a LinkedIn-looking prefix so the deeper rules are reached."""
    prefix = draw(st.sampled_from(URL_PREFIXES))
    rest = draw(any_text(extra="/%?#@:.-_inpubINPUB"))
    return prefix + rest


class TestLinkedinUrlProperties:
    @PROPERTY
    @given(spelling=profile_spellings())
    def test_every_spelling_of_a_profile_gives_its_key(self, spelling):
        slug, url = spelling
        assert normalize_linkedin_url(url) == PROFILE + quote(slug, safe="-_.")

    @PROPERTY
    @given(spelling=pub_spellings())
    def test_every_spelling_of_a_legacy_profile_gives_its_key(self, spelling):
        canonical, url = spelling
        assert normalize_linkedin_url(url) == canonical

    @PROPERTY
    @given(slug=st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=100))
    def test_ascii_slug_key_is_the_lowercased_slug(self, slug):
        assume(any(char.isalnum() for char in slug))
        assert normalize_linkedin_url("linkedin.com/in/" + slug) == PROFILE + slug.lower()

    @PROPERTY
    @given(value=st.one_of(profile_spellings().map(lambda pair: pair[1]), url_like_text()))
    def test_normalizing_a_key_returns_it_unchanged(self, value):
        try:
            key = normalize_linkedin_url(value)
        except InvalidIdentity:
            return
        assert normalize_linkedin_url(key) == key

    @PROPERTY
    @given(value=st.one_of(any_text(), url_like_text()))
    def test_any_text_gives_a_key_or_invalid_identity(self, value):
        try:
            key = normalize_linkedin_url(value)
        except InvalidIdentity as error:
            assert str(error).startswith("linkedin_url ")
            return
        # A key is plain ASCII on the canonical host, with no query, fragment or trailing slash.
        assert key.isascii()
        assert key.startswith(("https://www.linkedin.com/in/", "https://www.linkedin.com/pub/"))
        assert len(key) <= 512
        assert not any(char in key for char in "?#@ ") and not key.endswith("/")

    @PROPERTY
    @given(
        host=st.one_of(
            # A subdomain that is neither www, m nor a two-letter country.
            st.from_regex(r"[a-z0-9-]{3,12}", fullmatch=True)
            .filter(lambda label: label != "www")
            .map(lambda label: label + ".linkedin.com"),
            st.from_regex(r"[a-z0-9.-]{1,12}", fullmatch=True).map(
                lambda label: "linkedin.com." + label
            ),
            st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True).map(
                lambda label: label + "linkedin.com"
            ),
            st.from_regex(r"[a-z]{2,6}", fullmatch=True)
            .filter(lambda tld: tld != "com")
            .map(lambda tld: "linkedin." + tld),
            st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True).map(
                lambda label: "xn--" + label + ".com"
            ),
            st.from_regex(r"[a-z0-9.:-]{0,20}", fullmatch=True).map(
                lambda userinfo: "www.linkedin.com" + "@" + userinfo
            ),
            st.from_regex(r"[a-z0-9.:-]{0,20}", fullmatch=True).map(
                lambda userinfo: userinfo + "@www.linkedin.com"
            ),
        ),
        scheme=st.sampled_from(SCHEMES),
        slug=slugs(),
    )
    def test_look_alike_hosts_are_rejected(self, host, scheme, slug):
        with pytest.raises(InvalidIdentity):
            normalize_linkedin_url(f"{scheme}{host}/in/{quote(slug)}")

    @PROPERTY
    @given(
        first=st.one_of(
            st.sampled_from(
                [
                    "company",
                    "school",
                    "showcase",
                    "feed",
                    "posts",
                    "pulse",
                    "groups",
                    "jobs",
                    "events",
                    "search",
                    "mwlite",
                    "sales",
                    "learning",
                ]
            ),
            st.text(st.sampled_from(SLUG_ALPHABET + "%:"), min_size=1, max_size=12),
        ),
        rest=st.lists(slugs(), max_size=4),
        host=st.sampled_from(HOSTS),
    )
    def test_paths_that_are_not_profiles_are_rejected(self, first, rest, host):
        assume(unquote(first).lower() not in ("in", "pub", "", "/"))
        with pytest.raises(InvalidIdentity):
            normalize_linkedin_url("/".join([f"https://{host}", first, *map(quote, rest)]))

    @PROPERTY
    @given(
        rest=st.lists(slugs(), max_size=4),
        directory=st.sampled_from(["dir", "DIR", "Dir", "%64ir"]),
        host=st.sampled_from(HOSTS),
    )
    def test_pub_directory_pages_are_rejected(self, rest, directory, host):
        with pytest.raises(InvalidIdentity):
            normalize_linkedin_url("/".join([f"https://{host}/pub", directory, *map(quote, rest)]))

    @PROPERTY
    @given(
        scheme=st.from_regex(r"[a-zA-Z][a-zA-Z0-9+-]{0,8}", fullmatch=True).filter(
            lambda name: name.lower() not in ("http", "https")
        ),
        slug=slugs(),
    )
    def test_schemes_other_than_http_are_rejected(self, scheme, slug):
        with pytest.raises(InvalidIdentity):
            normalize_linkedin_url(f"{scheme}://www.linkedin.com/in/{quote(slug)}")

    @PROPERTY
    @given(
        port=st.integers(min_value=0, max_value=65535).filter(lambda port: port not in (80, 443))
    )
    def test_ports_other_than_80_and_443_are_rejected(self, port):
        assert rejection(normalize_linkedin_url, f"https://www.linkedin.com:{port}/in/john") == PORT


# Local parts and domains email_validator accepts, built from characters whose case can be
# flipped safely (no "σ": lowercasing "Σ" at the end of a word gives "ς", another key).
EMAIL_LOCAL = st.text(
    string.ascii_lowercase + string.digits + "äöüéçñ用户_+-", min_size=1, max_size=30
)
EMAIL_LABEL = st.text(string.ascii_lowercase + string.digits + "äöü", min_size=1, max_size=20)
EMAIL_TLD = st.sampled_from(["com", "org", "de", "co.uk", "io", "中国"])


@st.composite
def email_spellings(draw) -> tuple[str, str]:
    """(expected key, a spelling of the same address: case, NFD, padding, xn-- domain)."""
    local = draw(EMAIL_LOCAL)
    labels = draw(st.lists(EMAIL_LABEL, min_size=1, max_size=3))
    domain = ".".join([*labels, draw(EMAIL_TLD)])
    key = f"{unicodedata.normalize('NFC', local)}@{domain}"
    spelled_local = flip_case(draw, local)
    spelled_domain = flip_case(draw, domain)
    if draw(st.booleans()):
        spelled_domain = spelled_domain.lower().encode("idna").decode("ascii")
        spelled_domain = flip_case(draw, spelled_domain)
    spelling = f"{spelled_local}@{spelled_domain}"
    if draw(st.booleans()):
        spelling = unicodedata.normalize("NFD", spelling)
    return key, draw(st.sampled_from(PADDING)) + spelling + draw(st.sampled_from(PADDING))


class TestEmailProperties:
    @PROPERTY
    @given(spelling=email_spellings())
    def test_every_spelling_of_an_address_gives_its_key(self, spelling):
        key, value = spelling
        assert normalize_email(value) == key

    @PROPERTY
    @given(value=st.one_of(st.emails(), email_spellings().map(lambda pair: pair[1]), any_text()))
    def test_normalizing_a_key_returns_it_unchanged(self, value):
        try:
            key = normalize_email(value)
        except InvalidIdentity:
            return
        assert normalize_email(key) == key
        assert key == unicodedata.normalize("NFC", key.strip().lower())
        assert len(key) <= 254

    @PROPERTY
    @given(
        value=st.one_of(
            any_text(),
            st.emails().map(lambda email: email + "@"),
            any_text().map(lambda text: text + "@example.com"),
        )
    )
    def test_any_text_gives_a_key_or_invalid_identity(self, value):
        try:
            normalize_email(value)
        except InvalidIdentity as error:
            assert str(error).startswith("email ")

    @PROPERTY
    @given(value=any_text().filter(lambda text: text.count("@") != 1))
    def test_text_without_exactly_one_at_sign_is_rejected(self, value):
        with pytest.raises(InvalidIdentity):
            normalize_email(value)
