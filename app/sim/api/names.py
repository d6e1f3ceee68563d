"""Format checks of apimachinery's validation package, with its exact messages: DNS labels and
subdomains (RFC 1123, DNS-1035), label keys and values, port numbers and names, IP addresses.
Each returns the list of problems (empty when the value is valid)."""

from __future__ import annotations

import ipaddress
import re

DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + "(\\." + DNS1123_LABEL + ")*"
DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_KEY = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = "(" + LABEL_KEY + ")?"
PERCENT = "[0-9]+%"


def regex_error(msg: str, pattern: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{pattern}')"
    listed = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {listed}regex used for validation is '{pattern}')"


def max_len_error(length: int, unit: str = "characters") -> str:
    return f"must be no more than {length} {unit}"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _full(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


MSG_LABEL = regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character",
    DNS1123_LABEL,
    "my-name",
    "123-abc",
)
MSG_SUBDOMAIN = regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character",
    DNS1123_SUBDOMAIN,
    "example.com",
)
MSG_DNS1035 = regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character",
    DNS1035_LABEL,
    "my-name",
    "abc-123",
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
MSG_LABEL_VALUE = regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character",
    LABEL_VALUE,
    "MyValue",
    "my_value",
    "12345",
)
MSG_PORT = inclusive_range_error(1, 65535)


def dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > 63:
        errs.append(max_len_error(63))
    if not _full(DNS1123_LABEL, value):
        errs.append("must not contain dots" if _full(DNS1123_SUBDOMAIN, value) else MSG_LABEL)
    return errs


def dns1123_subdomain(value: str, unit: str = "characters") -> list[str]:
    errs = []
    if len(value.encode()) > 253:
        errs.append(max_len_error(253, unit))
    if not _full(DNS1123_SUBDOMAIN, value):
        errs.append(MSG_SUBDOMAIN)
    return errs


def dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > 63:
        errs.append(max_len_error(63))
    if not _full(DNS1035_LABEL, value):
        errs.append(MSG_DNS1035)
    return errs


def _mask_trailing_dash(name: str) -> str:
    """A generateName prefix may end with '-' (a suffix follows it)."""
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    return dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    return dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool = False) -> list[str]:
    return dns1035_label(_mask_trailing_dash(name) if prefix else name)


def label_key(value: str) -> list[str]:
    """A qualified name: an optional DNS subdomain prefix and '/', then a 63-byte name part."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in dns1123_subdomain(prefix, "bytes")]
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, LABEL_KEY, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part " + max_len_error(63, "bytes"))
    if not _full(LABEL_KEY, name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, LABEL_KEY, "MyName", "my.name", "123-abc"))
    return errs


def label_value(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > 63:
        errs.append(max_len_error(63, "bytes"))
    if not _full(LABEL_VALUE, value):
        errs.append(MSG_LABEL_VALUE)
    return errs


def port_number(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [MSG_PORT]


def port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME: every problem is reported, not only the first."""
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not re.fullmatch("[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def percent(value: str) -> list[str]:
    if _full(PERCENT, value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'", PERCENT, "1%", "93%"
        )
    ]


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's ParseIPSloppy: like the standard parser, but IPv4 octets may have leading zeros."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    parts = value.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
    return None


def ip_address(value: str) -> list[str]:
    """IsValidIP (strict): a parseable, canonical address, no leading zeros, no IPv4-mapped IPv6."""
    ip = parse_ip(value)
    if ip is None:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    errs = []
    try:
        ipaddress.ip_address(value)
    except ValueError:
        errs.append("must not have leading 0s")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        errs.append("must not be an IPv4-mapped IPv6 address")
    if errs:
        return errs
    if value != str(ip):
        return [f'must be in canonical form ("{ip}")']
    return []


def ip_family(value: str) -> int | None:
    ip = parse_ip(value)
    return None if ip is None else ip.version
