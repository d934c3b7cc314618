"""Signature test vectors made by the TUF reference implementation.

Writes signatures.json beside this file: public keys exactly as securesystemslib
serialises them (`SSlibKey.to_dict()`), the key id securesystemslib computes, and
signatures over a few messages, each checked with securesystemslib's own verifier
(`sslib_verifies`). `expect` is what update-core's `PublicKey::verify` must answer; it
differs from `sslib_verifies` only where update-core is deliberately stricter (see `note`).
Also writes a small root.json signed by python-tuf with an ed25519, an ecdsa and an rsa
key, to check canonical JSON and verification end to end.

Keys are generated afresh on every run, so rerunning changes every file; the tests read
whatever is there. Rerun with a Python that has securesystemslib[crypto] >= 1.0 and tuf:

    python -m venv /tmp/tufc/env
    /tmp/tufc/env/bin/pip install 'securesystemslib[crypto]' tuf
    /tmp/tufc/env/bin/python update-core/tests/vectors/make_vectors.py
"""

import json
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256, SHA384, SHA512
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, Signature, SSlibKey
from securesystemslib.signer._utils import compute_default_keyid
from tuf.api.metadata import Metadata, Root

HERE = Path(__file__).parent

MESSAGES = [
    b"",
    b"firmware 1.2.3 for board rev-b",
    encode_canonical(
        {"_type": "timestamp", "spec_version": "1.0.31", "version": 7, "expires": "2030-01-01T00:00:00Z"}
    ).encode(),
]


def sslib_verifies(key: SSlibKey, message: bytes, sig: bytes) -> bool:
    try:
        key.verify_signature(Signature(key.keyid, sig.hex()), message)
        return True
    except Exception:  # noqa: BLE001 -- any refusal counts as "does not verify"
        return False


def vector(name, key, message, sig, expect="valid", note=None):
    entry = {
        "name": name,
        "keyid": key.keyid,
        "key": key.to_dict(),
        "message": message.hex(),
        "sig": sig.hex(),
        "sslib_verifies": sslib_verifies(key, message, sig),
        "expect": expect,
    }
    if note:
        entry["note"] = note
    return entry


def key_from(private_key, keytype=None, scheme=None):
    """An SSlibKey for `private_key`, optionally with a non-default keytype/scheme."""
    default = SSlibKey.from_crypto(private_key.public_key(), scheme=scheme)
    keytype = keytype or default.keytype
    keyid = compute_default_keyid(keytype, default.scheme, default.keyval)
    return SSlibKey(keyid, keytype, default.scheme, default.keyval)


def signer_vectors(name, signer, message_indices=range(len(MESSAGES))):
    return [
        vector(f"{name} message {i}", signer.public_key, MESSAGES[i],
               bytes.fromhex(signer.sign(MESSAGES[i]).signature))
        for i in message_indices
    ]


def pss_with_salt(name, salt_length, expect, note):
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    key = key_from(private)
    message = MESSAGES[1]
    pss = padding.PSS(mgf=padding.MGF1(SHA256()), salt_length=salt_length)
    return vector(name, key, message, private.sign(message, pss, SHA256()), expect, note)


def all_vectors():
    vectors = []
    vectors += signer_vectors("ed25519", CryptoSigner.generate_ed25519())
    vectors += signer_vectors("ecdsa nistp256", CryptoSigner.generate_ecdsa())

    legacy_private = ec.generate_private_key(ec.SECP256R1())
    legacy = CryptoSigner(legacy_private, key_from(legacy_private, keytype="ecdsa-sha2-nistp256"))
    vectors += signer_vectors("ecdsa nistp256 legacy keytype", legacy, [1])

    # CryptoSigner cannot sign nistp384; securesystemslib verifies it, so sign directly.
    p384 = ec.generate_private_key(ec.SECP384R1())
    p384_key = key_from(p384)
    vectors.append(
        vector("ecdsa nistp384", p384_key, MESSAGES[1], p384.sign(MESSAGES[1], ec.ECDSA(SHA384())))
    )

    for size in (2048, 3072, 4096):
        signer = CryptoSigner.generate_rsa(size=size)
        vectors += signer_vectors(f"rsassa-pss-sha256 {size}", signer, [1, 2])
    for scheme in ("rsassa-pss-sha384", "rsassa-pss-sha512", "rsa-pkcs1v15-sha256",
                   "rsa-pkcs1v15-sha384", "rsa-pkcs1v15-sha512"):
        signer = CryptoSigner.generate_rsa(scheme=scheme, size=2048)
        vectors += signer_vectors(f"{scheme} 2048", signer, [1])

    vectors.append(pss_with_salt(
        "rsassa-pss-sha256 salt MAX_LENGTH", padding.PSS.MAX_LENGTH, "valid",
        "salt length emLen - hLen - 2, what cryptography's PSS.MAX_LENGTH and Go's "
        "PSSSaltLengthAuto sign with",
    ))
    vectors.append(pss_with_salt(
        "rsassa-pss-sha256 salt 0", 0, "invalid",
        "securesystemslib verifies with PSS.AUTO (any salt length); update-core accepts "
        "only salt = digest length or the maximum",
    ))

    weak = CryptoSigner.generate_rsa(size=1024)
    vectors.append(vector(
        "rsassa-pss-sha256 1024", weak.public_key, MESSAGES[1],
        bytes.fromhex(weak.sign(MESSAGES[1]).signature), "invalid",
        "securesystemslib has no minimum key size; update-core refuses RSA keys under 2048 bits",
    ))

    p521 = ec.generate_private_key(ec.SECP521R1())
    p521_key = key_from(p521)
    vectors.append(vector(
        "ecdsa nistp521", p521_key, MESSAGES[1], p521.sign(MESSAGES[1], ec.ECDSA(SHA512())),
        "unsupported", "update-core does not implement ecdsa-sha2-nistp521",
    ))
    return vectors


def signed_root():
    signers = [CryptoSigner.generate_ed25519(), CryptoSigner.generate_ecdsa(),
               CryptoSigner.generate_rsa()]
    root = Root(expires=datetime(2030, 1, 1, tzinfo=timezone.utc))
    for signer in signers:
        for role in ("root", "timestamp", "snapshot", "targets"):
            root.add_key(signer.public_key, role)
    root.roles["root"].threshold = 3
    metadata = Metadata(root)
    for signer in signers:
        metadata.sign(signer, append=True)
    return metadata.to_bytes()


def main():
    vectors = all_vectors()
    assert all(v["sslib_verifies"] for v in vectors), "securesystemslib refused its own vector"
    (HERE / "signatures.json").write_text(json.dumps({"vectors": vectors}, indent=1) + "\n")
    (HERE / "root.json").write_bytes(signed_root() + b"\n")


if __name__ == "__main__":
    main()
