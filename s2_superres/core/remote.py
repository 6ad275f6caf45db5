"""Which hosts the project may contact, and what a remote document may name.

A remote document (a STAC item fetched over http(s)) is data, never instructions: its asset hrefs may only be
http(s) URLs or paths relative to the item's own URL; GDAL virtual file system prefixes (``/vsi...``), GDAL's
``/vsicurl?option=...`` form, local paths and ``file://`` URLs are refused. Every host contacted, the item's
and its assets', must resolve to public addresses only: loopback, private, link-local, multicast and reserved
addresses are refused (every address the name resolves to is checked, right before GDAL opens the URL:
core.gdal_env.open_raster) unless the user allows private hosts
(a local catalogue): ``--allow-private-hosts`` on the command line, the Processing parameter, the dock's
setting. The permission is held in a context variable: :func:`private_hosts` sets it for the calling thread.
"""
from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from .errors import InputError, printable

_allow_private: ContextVar[bool] = ContextVar("allow_private_hosts", default=False)
#: how to tell the user to allow private hosts
HOW_TO_ALLOW = ("--allow-private-hosts on the command line, 'Allow private network hosts' in Processing, or the "
                "dock's setting")


@contextmanager
def private_hosts(allow: bool) -> Iterator[None]:
    """Run the body allowing (or not) loopback, private and link-local hosts for remote reads."""
    token = _allow_private.set(bool(allow))
    try:
        yield
    finally:
        _allow_private.reset(token)


def private_hosts_allowed() -> bool:
    """True inside :func:`private_hosts` (True)."""
    return _allow_private.get()


def is_url(location: str) -> bool:
    """True for an http(s) URL."""
    return location.lower().startswith(("http://", "https://"))


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL whose host resolves to public addresses only (or private hosts are
    allowed); InputError naming it otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(f"'{printable(url)}' is not an http(s) URL; only http(s) URLs are read over the network.")
    if private_hosts_allowed():
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme.lower() == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise InputError(f"The host of '{printable(url)}' cannot be resolved ({exc}). Check the URL and the "
                         "network.") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise InputError(f"'{printable(url)}' points at {address}, a loopback, private or link-local "
                             "address: it was not contacted (only public hosts are, so that a document from the "
                             "network cannot reach into your network). To read from a local catalogue, allow "
                             f"private hosts ({HOW_TO_ALLOW}).")
    return url


def asset_url(href: str, item_url: str) -> str:
    """The URL of an asset ``href`` named by the remote item at ``item_url``: an http(s) URL or a path relative
    to the item's URL (same scheme). InputError for anything else. Its host is checked (:func:`check_url`) when
    it is opened (core.gdal_env.open_raster)."""
    url = urllib.parse.urljoin(item_url, href)
    if is_vsi(href) or href.startswith(("/", "\\")) or not is_url(url):
        raise InputError(f"The remote STAC item '{printable(item_url)}' names '{printable(href)}', a local path, "
                         "GDAL path or non-http(s) URL: a document from the network may only name http(s) assets "
                         "(or paths relative to its own URL). The item was not used.")
    return url


def is_vsi(href: str) -> bool:
    """True for a GDAL virtual file system path (``/vsicurl/...``, ``/vsicurl?...``, ``/vsizip/...``)."""
    return href.strip().lower().startswith(("/vsi", "\\vsi"))
