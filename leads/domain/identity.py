"""Email, LinkedIn profile URL and domain normalization: the keys that leads are
deduplicated by, and that suppression entries match.

Pure functions, no I/O. Each `normalize_*` returns the canonical form or raises
InvalidIdentity with a one-line reason.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote_to_bytes, urlsplit

import idna
from email_validator import EmailNotValidError, validate_email

EMAIL_MAX_LENGTH = 254
DOMAIN_MAX_LENGTH = 253
LINKEDIN_URL_MAX_LENGTH = 512

CANONICAL_LINKEDIN_HOST = "www.linkedin.com"
# linkedin.com itself, www., mobile (m.) and two-letter country hosts (uk., de., ...).
_LINKEDIN_HOST = re.compile(r"^(?:(?:www|m|[a-z]{2})\.)?linkedin\.com$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# The three short id parts of a legacy /pub/<name>/<a>/<b>/<c> profile URL.
_PUB_ID_PART = re.compile(r"^[0-9a-z]{1,3}$")
_SLUG_PUNCTUATION = frozenset("-_.")
_SLUG_MAX_LENGTH = 200


class InvalidIdentity(ValueError):
    """The value is not a valid email address or LinkedIn profile URL."""


def normalize_email(value: str) -> str:
    """Trim, check the syntax (no DNS lookups) and lowercase an email address.

    The key is built from email_validator's normalized parts, so that Unicode spellings
    that are the same address (composed or decomposed accents, an `xn--` or a Unicode
    domain) give one key.
    """
    email = value.strip()
    if not email:
        raise InvalidIdentity("email is empty")
    if len(email) > EMAIL_MAX_LENGTH:
        raise InvalidIdentity(f"email is longer than {EMAIL_MAX_LENGTH} characters")
    try:
        address = validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidIdentity(f"email is not a valid email address ({error})") from None
    return f"{_lowercase(address.local_part)}@{address.domain}"


def normalize_domain(value: str) -> str:
    """Trim, drop a leading `@`, check and lowercase a domain name, in its IDNA (punycode)
    form: a suppression entry of kind `domain`.

    A domain is valid exactly when an email address at it is (normalize_email): a hostname
    with a dot, not an IP address, not a special-use name.
    """
    domain = value.strip().removeprefix("@")
    if not domain:
        raise InvalidIdentity("domain is empty")
    if len(domain) > DOMAIN_MAX_LENGTH:
        raise InvalidIdentity(f"domain is longer than {DOMAIN_MAX_LENGTH} characters")
    try:
        address = validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError as error:
        reason = str(error).replace("The part after the @-sign", "The domain")
        reason = reason.replace("An email address", "A domain")
        raise InvalidIdentity(f"domain is not a valid domain name ({reason})") from None
    return address.ascii_domain


def ascii_email_domain(email: str) -> str | None:
    """The IDNA (punycode) form of a normalized email's domain, which domain entries are
    written in; None when the domain is ASCII already (the email's own form is it)."""
    domain = email.rpartition("@")[2]
    if domain.isascii():
        return None
    return idna.encode(domain).decode("ascii")


def normalize_linkedin_url(value: str) -> str:
    """Canonicalize a LinkedIn profile URL to https://www.linkedin.com/in/<slug>.

    Legacy /pub/<name>/<a>/<b>/<c> URLs keep their four path parts. Anything that is not
    a person's profile on a LinkedIn host is rejected.
    """
    url = value.strip()
    if not url:
        raise InvalidIdentity("linkedin_url is empty")
    if len(url) > LINKEDIN_URL_MAX_LENGTH:
        raise InvalidIdentity(f"linkedin_url is longer than {LINKEDIN_URL_MAX_LENGTH} characters")
    # Lone surrogates (category Cs) cannot be encoded, so they are refused with the rest.
    if any(char.isspace() or unicodedata.category(char) in ("Cc", "Cs") for char in url):
        raise InvalidIdentity("linkedin_url contains white space or control characters")

    url = _with_https_scheme(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidIdentity("linkedin_url is not a valid URL") from None
    if "@" in parts.netloc:
        raise InvalidIdentity("linkedin_url must not carry user information")
    if port not in (None, 80, 443):
        raise InvalidIdentity("linkedin_url must not name a port")

    host = (parts.hostname or "").removesuffix(".")
    if not _LINKEDIN_HOST.match(host):
        raise InvalidIdentity("linkedin_url is not on a LinkedIn host")

    segments = [_decode_segment(segment) for segment in parts.path.split("/") if segment]
    if not segments:
        raise InvalidIdentity("linkedin_url is not a profile URL (expected /in/<profile>)")
    # A browser resolves /in/x/../../company/y to /company/y: refuse rather than guess.
    if any(segment in (".", "..") for segment in segments):
        raise InvalidIdentity("linkedin_url must not hold '.' or '..' path segments")
    kind = segments[0].lower()
    if kind == "in" and len(segments) >= 2:
        path = ["in", _canonical_slug(segments[1])]
    elif kind == "pub" and len(segments) >= 5 and segments[1].lower() != "dir":
        id_parts = [segment.lower() for segment in segments[2:5]]
        if not all(_PUB_ID_PART.match(part) for part in id_parts):
            raise InvalidIdentity("linkedin_url is not a valid legacy /pub/ profile URL")
        path = ["pub", _canonical_slug(segments[1]), *id_parts]
    else:
        raise InvalidIdentity("linkedin_url is not a profile URL (expected /in/<profile>)")

    canonical = f"https://{CANONICAL_LINKEDIN_HOST}/" + "/".join(
        quote(segment, safe="-_.") for segment in path
    )
    if len(canonical) > LINKEDIN_URL_MAX_LENGTH:
        raise InvalidIdentity(
            f"linkedin_url is longer than {LINKEDIN_URL_MAX_LENGTH} characters once encoded"
        )
    return canonical


def _with_https_scheme(url: str) -> str:
    """Make the scheme explicit: http(s) URLs keep theirs, bare hosts get https."""
    if url.startswith("//"):
        return "https:" + url
    scheme = _SCHEME.match(url)
    # No scheme at all, or a bare "host:port" (a host has a dot, a scheme name has none).
    # Only the start counts: "linkedin.com/in/x?next=https://..." has no scheme.
    if scheme is None or "." in scheme.group(1):
        return "https://" + url
    if scheme.group(1).lower() in ("http", "https") and url[scheme.end() :].startswith("//"):
        return url
    # mailto:, javascript:, ftp://, and "https:" without "//".
    raise InvalidIdentity("linkedin_url must be an http(s) URL")


def _decode_segment(segment: str) -> str:
    """Percent-decode one path segment as UTF-8 (so %C3%B6 and ö are the same)."""
    try:
        decoded = unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidIdentity("linkedin_url has percent-escapes that are not UTF-8") from None
    return unicodedata.normalize("NFC", decoded)


def _canonical_slug(slug: str) -> str:
    slug = _lowercase(slug)
    if not slug or len(slug) > _SLUG_MAX_LENGTH:
        raise InvalidIdentity("linkedin_url has an empty or overlong profile name")
    if not all(_is_slug_char(char) for char in slug):
        raise InvalidIdentity(
            "linkedin_url profile name may hold only letters, digits, '-', '_' and '.'"
        )
    if not any(char.isalnum() for char in slug):
        raise InvalidIdentity("linkedin_url profile name has no letter or digit")
    return slug


def _is_slug_char(char: str) -> bool:
    # Combining marks (category M) are part of letters in many scripts: the vowel signs
    # of Devanagari, "i" + dot above from lowercasing "İ".
    return char.isalnum() or char in _SLUG_PUNCTUATION or unicodedata.category(char)[0] == "M"


def _lowercase(text: str) -> str:
    """Lowercase, then recompose: lowercasing can leave a string that is not NFC."""
    return unicodedata.normalize("NFC", text.lower())
