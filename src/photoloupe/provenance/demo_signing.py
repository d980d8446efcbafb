"""Sign files with C2PA Content Credentials under a throw-away certificate chain.

For tests and demo files only: the chain is made on the spot, trusted by nobody, and a file
signed here reads as "valid, untrusted". Needs the `cryptography` package (the `dev` extra).
Nothing here touches the network: no time-stamp authority is used.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ThrowawayChain:
    """A root -> intermediate -> signer chain; PEM texts."""

    chain_pem: bytes  # signer certificate, then the intermediate
    key_pem: bytes  # the signer's private key (PKCS#8)
    root_pem: str  # give this as trust anchor to see "trusted"


def make_throwaway_chain(organisation: str = "photoloupe tests") -> ThrowawayChain:
    """A fresh ES256 (P-256) chain with the certificate profile c2pa-rs checks.

    The signer has digitalSignature key usage, an accepted extended key usage
    (emailProtection), CA:false and key identifiers; the CAs have keyCertSign.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            ]
        )

    def certificate(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: str,
        issuer_key: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
    ) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=not ca,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=ca,
                    crl_sign=ca,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    root_key, inter_key, signer_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = certificate("throw-away root", root_key, "throw-away root", root_key, ca=True)
    inter = certificate("throw-away intermediate", inter_key, "throw-away root", root_key, ca=True)
    signer = certificate(
        f"{organisation} signer", signer_key, "throw-away intermediate", inter_key, ca=False
    )
    key_pem = signer_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return ThrowawayChain(pem(signer) + pem(inter), key_pem, pem(root).decode())


def sign(
    data: bytes,
    mime: str,
    manifest: dict[str, Any],
    chain: ThrowawayChain,
    *,
    ingredients: tuple[tuple[dict[str, Any], str, bytes], ...] = (),
) -> bytes:
    """`data` with an embedded C2PA manifest (`manifest` as c2pa-python's Builder takes it).

    `ingredients`: (ingredient JSON, MIME type, bytes) for each source file.
    """
    import c2pa

    context = c2pa.Context.from_dict(
        {
            "builder": {"thumbnail": {"enabled": False}},
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "core": {"allowed_network_hosts": []},
        }
    )
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain.chain_pem, chain.key_pem, None)
    )
    try:
        with signer, c2pa.Builder(manifest, context=context) as builder:
            for ingredient, ingredient_mime, ingredient_data in ingredients:
                builder.add_ingredient(ingredient, ingredient_mime, io.BytesIO(ingredient_data))
            out = io.BytesIO()
            builder.sign(signer, mime, io.BytesIO(data), out)
            return out.getvalue()
    finally:
        context.close()
