"""The fake voice server's side of DAVE: the MLS external sender, and its TLS certificate.

Discord's voice server is the *external sender* of every call's MLS group (RFC 9420
§12.1.8.1): it announces its signing key (voice opcode 25), and it proposes each member's
key package as an ``Add`` signed with that key (opcode 27); a member commits the
proposals and the server relays the commit and the ``Welcome`` (opcodes 29, 30).
``davey`` implements the members' side only, so :class:`ExternalSender` builds those two
messages itself: TLS presentation language with MLS varint lengths, ciphersuite 2
(P-256 ECDSA with SHA-256, DER signatures), the layout ``libdave`` and ``davey`` read
(the group id is the channel id as 8 big-endian bytes; a credential is a member's user
id as 8 big-endian bytes). Checked against davey 0.1.7.

:func:`self_signed` makes the certificate of the fake's ``wss://127.0.0.1`` endpoint.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import struct
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["ExternalSender", "opaque", "self_signed", "varint"]

MLS10 = 1  # ProtocolVersion mls10
PUBLIC_MESSAGE = 1  # WireFormat mls_public_message
SENDER_EXTERNAL = 2  # SenderType external
CONTENT_PROPOSAL = 2  # ContentType proposal
PROPOSAL_ADD = 1  # ProposalType add
CREDENTIAL_BASIC = 1  # CredentialType basic


def varint(n: int) -> bytes:
    """An MLS variable-length integer (RFC 9420 §2.1.2)."""
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return struct.pack(">H", 0x4000 | n)
    if n < 1 << 30:
        return struct.pack(">I", 0x80000000 | n)
    raise ValueError("too long for an MLS vector")


def opaque(data: bytes) -> bytes:
    """``opaque data<V>``: the bytes with their varint length in front."""
    return varint(len(data)) + data


class ExternalSender:
    """The voice server's MLS signing key and the messages it signs."""

    def __init__(self, identity: bytes = b"fake-discord-voice") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        public = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        # struct ExternalSender { SignaturePublicKey signature_key; Credential credential; }
        self.package = opaque(public) + struct.pack(">H", CREDENTIAL_BASIC) + opaque(identity)

    def add_proposals(self, channel_id: int, epoch: int, key_packages: list[bytes]) -> bytes:
        """``MLSMessage proposals<V>``: one signed Add per key package, for the group of
        ``channel_id`` at ``epoch``; what opcode 27 carries after its operation type."""
        messages = b"".join(self._add(channel_id, epoch, kp) for kp in key_packages)
        return opaque(messages)

    def _add(self, channel_id: int, epoch: int, key_package: bytes) -> bytes:
        content = (
            opaque(struct.pack(">Q", channel_id))  # group_id
            + struct.pack(">QBI", epoch, SENDER_EXTERNAL, 0)  # epoch, sender (index 0)
            + opaque(b"")  # authenticated_data
            + bytes([CONTENT_PROPOSAL])
            + struct.pack(">H", PROPOSAL_ADD)
            + key_package
        )
        head = struct.pack(">HH", MLS10, PUBLIC_MESSAGE)
        # FramedContentTBS of an external sender carries no GroupContext (§6.1)
        to_sign = opaque(b"MLS 1.0 FramedContentTBS") + opaque(head + content)
        signature = self._key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        # MLSMessage { version, wire_format, PublicMessage { content, auth { signature } } };
        # no membership tag: the sender is not a member
        return head + content + opaque(signature)


def self_signed(host: str = "127.0.0.1") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context that trusts it) for ``wss://host``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake discord voice")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain reads files only
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client
