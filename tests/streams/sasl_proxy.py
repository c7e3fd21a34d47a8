"""SASL in front of the test broker. Tansu 0.6 accepts SCRAM logins but cannot store a user
(``tansu user create`` stores nothing it can check), so a successful login cannot be tested on
it alone. This proxy is the broker's SASL side, written from the protocol: it answers
SaslHandshake and SaslAuthenticate itself (PLAIN, and SCRAM-SHA-256/512 per RFC 5802, checking
the client's proof against its own users and proving itself with the server signature, which
aiokafka verifies), refuses a bad login with Kafka's error code 58 as a broker does, refuses
any other request before the login, and after it forwards the bytes to the broker. The clients,
their SASL code and the broker are real; only this login step is ours."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import struct
from collections import Counter

from .proxy import Proxy, pipe

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
SASL_AUTHENTICATION_FAILED = 58
ITERATIONS = 4096
HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


class SaslProxy(Proxy):
    """Plaintext on 127.0.0.1:``port`` with a SASL login against ``users`` (name → password),
    then forwarded to 127.0.0.1:``backend``."""

    def __init__(self, port: int, backend: int, users: dict[str, str]) -> None:
        super().__init__(port, backend)
        self.users = users
        self.logins: Counter[tuple[str, str]] = Counter()  # (user, mechanism) accepted
        self.refused: Counter[tuple[str, str]] = Counter()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
        back = asyncio.create_task(pipe(up_reader, writer))
        try:
            if await self._login(reader, writer, up_writer):
                await pipe(reader, up_writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_writer.close()
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.close()
            await back

    async def _login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_writer: asyncio.StreamWriter) -> bool:
        """Serve requests until the login succeeds (True) or fails (False)."""
        mechanism = ""
        scram: Scram | None = None
        while True:
            frame = await reader.readexactly(struct.unpack(">i", await reader.readexactly(4))[0])
            key, version, corr = struct.unpack(">hhi", frame[:8])
            body = frame[10 + max(struct.unpack(">h", frame[8:10])[0], 0):]
            if key == API_VERSIONS:  # allowed before the login, as on a broker
                up_writer.write(struct.pack(">i", len(frame)) + frame)
                continue
            if key == SASL_HANDSHAKE:
                mechanism = _string(body)
                known = ["PLAIN", *HASHES]
                _reply(writer, corr, struct.pack(">h", 0 if mechanism in known else 33)
                       + struct.pack(">i", len(known)) + b"".join(_str(m) for m in known))
                continue
            if key != SASL_AUTHENTICATE or not mechanism:
                return False  # anything else before the login: the connection is closed
            token = body[4:4 + struct.unpack(">i", body[:4])[0]]
            if mechanism == "PLAIN":
                _, user, password = token.decode().split("\0")
                ok, answer, done = self.users.get(user) == password, b"", True
            else:
                scram = scram or Scram(HASHES[mechanism], self.users)
                ok, answer, done = scram.step(token.decode())
                user = scram.user
            if not ok:
                self.refused[user, mechanism] += 1
                _authenticate_reply(writer, corr, version, SASL_AUTHENTICATION_FAILED,
                                    "Authentication failed: Invalid username or password", b"")
                await writer.drain()
                return False
            _authenticate_reply(writer, corr, version, 0, None, answer)
            if done:
                self.logins[user, mechanism] += 1
                return True


class Scram:
    """The server side of one SCRAM exchange (RFC 5802)."""

    def __init__(self, hash_name: str, users: dict[str, str]) -> None:
        self.hash_name, self.users = hash_name, users
        self.user = ""
        self.salt = os.urandom(16)
        self.first_bare = self.server_first = ""

    def step(self, message: str) -> tuple[bool, bytes, bool]:
        """(accepted, the answer, exchange finished)."""
        if not self.first_bare:  # client-first: "n,,n=user,r=nonce"
            self.first_bare = message.split(",", 2)[2]
            attrs = dict(a.split("=", 1) for a in self.first_bare.split(","))
            self.user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
            nonce = attrs["r"] + base64.b64encode(os.urandom(12)).decode()
            self.server_first = (f"r={nonce},s={base64.b64encode(self.salt).decode()},"
                                 f"i={ITERATIONS}")
            return True, self.server_first.encode(), False
        without_proof, _, proof = message.rpartition(",p=")  # client-final
        auth = f"{self.first_bare},{self.server_first},{without_proof}".encode()
        password = self.users.get(self.user)
        if password is None:
            return False, b"", True
        salted = hashlib.pbkdf2_hmac(self.hash_name, password.encode(), self.salt, ITERATIONS)
        client_key = self._hmac(salted, b"Client Key")
        signature = self._hmac(hashlib.new(self.hash_name, client_key).digest(), auth)
        expected = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        if not hmac.compare_digest(expected, base64.b64decode(proof)):
            return False, b"", True
        server = self._hmac(self._hmac(salted, b"Server Key"), auth)
        return True, b"v=" + base64.b64encode(server), True

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self.hash_name).digest()


def _string(b: bytes) -> str:
    return b[2:2 + struct.unpack(">h", b[:2])[0]].decode()


def _str(s: str) -> bytes:
    return struct.pack(">h", len(s)) + s.encode()


def _reply(writer: asyncio.StreamWriter, corr: int, payload: bytes) -> None:
    writer.write(struct.pack(">ii", len(payload) + 4, corr) + payload)


def _authenticate_reply(writer: asyncio.StreamWriter, corr: int, version: int, error: int,
                        message: str | None, answer: bytes) -> None:
    payload = (struct.pack(">h", error) + (_str(message) if message is not None
                                           else struct.pack(">h", -1))
               + struct.pack(">i", len(answer)) + answer)
    if version >= 1:
        payload += struct.pack(">q", 0)  # session_lifetime_ms: no re-authentication
    _reply(writer, corr, payload)
