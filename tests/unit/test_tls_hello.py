"""ClientHello encoding and ServerHello/Alert parsing (checks/tls/hello.py).

The answers below are recorded bytes from the lab's real nginx 1.22 / OpenSSL 3.0 (web-good
198.18.0.31:443 with TLS 1.2/1.3, web-weak 198.18.0.30:443 with TLS 1.0/1.1 only), captured
with ``hello.client_hello(..., random=bytes(32))`` from inside gs-scan on 2026-11-22.
"""

from __future__ import annotations

import socket
import struct

import pytest

from checks.tls import hello
from scanner.errors import ProtocolError

# nginx web-good, TLS 1.2 offered: ServerHello 1.2, ECDHE-RSA-AES256-GCM-SHA384 (0xc030); its random
# ends in the RFC 8446 downgrade sentinel "DOWNGRD\x01" because the server also speaks TLS 1.3.
GOOD_TLS12 = bytes.fromhex(
    "16030300590200005503036246cf480530ee4470e3a86447a4a3e352e9e13b67e70dd3444f574e475244012035ac96762c97b2fc"
    "1dcaa002628dc4d77005e006240b15d296e76c2d77695d93c03000000dff01000100000b000403000102")
# nginx web-good, TLS 1.3 offered: legacy_version 1.2 + supported_versions 0x0304, TLS_AES_256_GCM_SHA384.
GOOD_TLS13 = bytes.fromhex(
    "160303007a020000760303fddbac1f8002df22afd5efb1d15b5a0ba68754ac9bc4972aa9c2b1f414597b802087c604bb696c444c"
    "55684cc3d7461881d1e9b7284d4d61a0696d2492e3253ae3130200002e002b0002030400330024001d00202a5f9e4dbfc19a5794"
    "8d8726ec57b81e895860a35d1e31683d989cd05edd6e5e")
# nginx web-good, SSL 3.0 offered: fatal alert handshake_failure (40).
GOOD_SSL3 = bytes.fromhex("15030000020228")
# nginx web-weak, TLS 1.2 offered: it answers with TLS 1.1 (0x0302), ECDHE-RSA-AES256-SHA (0xc014).
WEAK_TLS12 = bytes.fromhex(
    "16030200590200005503025c9206716ade2054ab9cfaee5f6c5770af1faceea64262d501c4fbeb5b87d01d2032f1405cb48f7b30"
    "e71753b804429ee26b4798a6b26ebe28dec3843b39f77a73c01400000dff01000100000b000403000102")


def _answer(data: bytes, offered: str, chunks: int = 1) -> hello.HelloAnswer:
    a, b = socket.socketpair()
    try:
        step = max(1, len(data) // chunks)
        for i in range(0, len(data), step):
            a.sendall(data[i:i + step])
        a.shutdown(socket.SHUT_WR)
        return hello.read_answer(b, offered, timeout=2)
    finally:
        a.close()
        b.close()


def _parse_hello(record: bytes) -> dict[str, object]:
    rtype, rversion, length = struct.unpack("!BHH", record[:5])
    assert rtype == 22 and length == len(record) - 5
    hs = record[5:]
    assert hs[0] == 1 and int.from_bytes(hs[1:4], "big") == len(hs) - 4
    body = hs[4:]
    version = struct.unpack("!H", body[:2])[0]
    sid_len = body[34]
    pos = 35 + sid_len
    n = struct.unpack("!H", body[pos:pos + 2])[0]
    suites = [struct.unpack("!H", body[pos + 2 + i:pos + 4 + i])[0] for i in range(0, n, 2)]
    pos += 2 + n
    pos += 1 + body[pos]
    exts: dict[int, bytes] = {}
    if pos < len(body):
        end = pos + 2 + struct.unpack("!H", body[pos:pos + 2])[0]
        pos += 2
        while pos < end:
            t, ln = struct.unpack("!HH", body[pos:pos + 4])
            exts[t] = body[pos + 4:pos + 4 + ln]
            pos += 4 + ln
        assert pos == end == len(body)
    return {"record_version": rversion, "version": version, "suites": suites, "exts": exts}


def test_client_hello_offers_exactly_one_version_and_the_chosen_suites() -> None:
    tls12 = _parse_hello(hello.client_hello("TLSv1.2", (0xC030, 0x002F), server_name="portal.lab.test"))
    assert tls12["version"] == 0x0303 and tls12["suites"] == [0xC030, 0x002F]
    exts = tls12["exts"]
    assert isinstance(exts, dict)
    assert 0x002B not in exts, "no supported_versions: a TLS 1.3 server must not pick 1.3"
    assert b"portal.lab.test" in exts[0x0000] and 0x000D in exts


def test_client_hello_tls13_uses_supported_versions_and_a_key_share() -> None:
    parsed = _parse_hello(hello.client_hello("TLSv1.3", hello.TLS13_SUITES))
    exts = parsed["exts"]
    assert isinstance(exts, dict)
    assert parsed["version"] == 0x0303 and exts[0x002B] == b"\x02\x03\x04"
    assert exts[0x0033][:4] == b"\x00\x24\x00\x1d" and len(exts[0x0033]) == 2 + 4 + 32


def test_ssl3_hello_has_no_extensions_and_no_sni_for_ip() -> None:
    ssl3 = _parse_hello(hello.client_hello("SSLv3", (0x002F,)))
    assert ssl3["record_version"] == 0x0300 and ssl3["version"] == 0x0300 and ssl3["exts"] == {}
    tls10 = _parse_hello(hello.client_hello("TLSv1.0", (0x002F,), server_name="198.18.0.30"))
    exts = tls10["exts"]
    assert isinstance(exts, dict) and 0x0000 not in exts and 0x000D not in exts


def test_recorded_nginx_answers() -> None:
    a12 = _answer(GOOD_TLS12, "TLSv1.2")
    assert a12.accepted and a12.version == "TLSv1.2" and a12.cipher_name == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    a13 = _answer(GOOD_TLS13, "TLSv1.3", chunks=7)  # split across reads
    assert a13.accepted and a13.version == "TLSv1.3" and a13.cipher == 0x1302 and not a13.retry_request
    ssl3 = _answer(GOOD_SSL3, "SSLv3")
    assert not ssl3.accepted and ssl3.refusal == "alert handshake_failure"
    weak = _answer(WEAK_TLS12, "TLSv1.2")
    assert not weak.accepted and weak.version == "TLSv1.1" and "lower version" in weak.refusal


def test_a_version_above_the_offer_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="above"):
        _answer(GOOD_TLS12, "TLSv1.1")


def test_hello_retry_request_counts_as_acceptance() -> None:
    body = bytearray(GOOD_TLS13[9:])
    body[2:34] = hello.HRR_RANDOM
    record = GOOD_TLS13[:9] + bytes(body)
    answer = _answer(record, "TLSv1.3")
    assert answer.accepted and answer.retry_request


@pytest.mark.parametrize("data, message", [
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "not a TLS handshake answer"),
    (GOOD_TLS12[:40], "truncated"),
    (b"\x16\x03\x03\x00\x05\x0b\x00\x00\x01\x00", "expected ServerHello"),
    (b"\x15\x03\x03\x00\x01\x02", "truncated TLS alert"),
])
def test_garbage_and_truncation_are_protocol_errors(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        _answer(data, "TLSv1.2")


def test_close_without_answer_is_a_refusal_not_an_error() -> None:
    answer = _answer(b"", "TLSv1.0")
    assert not answer.accepted and "closed" in answer.refusal


def test_every_weak_category_has_suites_and_codes_are_unique() -> None:
    for category in (*hello.WEAK_CATEGORIES, hello.NO_FORWARD_SECRECY):
        assert hello.suites_of(category), category
    assert set(hello.TLS13_SUITES) == {0x1301, 0x1302, 0x1303}
