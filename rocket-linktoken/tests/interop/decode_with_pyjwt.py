"""Decodes the links rocket-linktoken made (tests/vectors/rust-links.json) with PyJWT.

Another implementation, given the secret, must read exactly the header and claims the file
lists, with the signature checked; a vector bound to a fingerprint must carry the `fp` computed
here with the standard library's HMAC, as the README describes it. Time claims are not checked
here: the vectors are minted at a fixed time, and the Rust suite covers expiry. Exits non-zero
on the first disagreement.
"""

import base64
import hashlib
import hmac
import json
import pathlib
import sys

import jwt

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "rust-links.json"


def fingerprint_hash(secret: str, fingerprint: str) -> str:
    """The `fp` claim of a link bound to `fingerprint`, per the README's "The token"."""
    message = b"linktoken-fp:" + fingerprint.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def main() -> int:
    document = json.loads(VECTORS.read_text())
    secret = document["secret"]
    checked = 0
    for vector in document["vectors"]:
        token = vector["token"]
        header = jwt.get_unverified_header(token)
        if header != vector["header"]:
            print(f"{vector['name']}: header {header} != {vector['header']}")
            return 1
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=vector["claims"]["aud"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
        if claims != vector["claims"]:
            print(f"{vector['name']}: claims {claims} != {vector['claims']}")
            return 1
        if "fingerprint" in vector:
            expected = fingerprint_hash(secret, vector["fingerprint"])
            if claims.get("fp") != expected:
                print(f"{vector['name']}: fp {claims.get('fp')} != {expected}")
                return 1
        try:
            jwt.decode(token, secret + "x", algorithms=["HS256"], options={"verify_aud": False})
        except jwt.InvalidSignatureError:
            pass
        else:
            print(f"{vector['name']}: accepted under the wrong secret")
            return 1
        checked += 1
    if checked == 0:
        print("no vectors")
        return 1
    print(f"PyJWT {jwt.__version__} decoded {checked} rocket-linktoken links")
    return 0


if __name__ == "__main__":
    sys.exit(main())
