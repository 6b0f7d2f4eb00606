"""The signature scheme, without a server."""

from service.domain.signature import parse_secrets, sign, verify

BODY = b'{"id":"tm_1","event":"attendance.inserted"}'


def test_sign_is_hex_hmac_sha256_of_the_raw_body() -> None:
    # Reference value computed independently: HMAC-SHA256("secret", BODY).
    import hashlib
    import hmac

    assert sign(BODY, "secret") == hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()
    assert len(sign(BODY, "secret")) == 64


def test_lower_upper_and_prefixed_forms_are_accepted() -> None:
    digest = sign(BODY, "secret")
    for header in (digest, digest.upper(), f"sha256={digest}", f"SHA256={digest.upper()}"):
        assert verify(BODY, header, ["secret"]), header


def test_wrong_secret_missing_header_and_changed_body_are_refused() -> None:
    digest = sign(BODY, "secret")
    assert not verify(BODY, digest, ["other"])
    assert not verify(BODY, None, ["secret"])
    assert not verify(BODY, "", ["secret"])
    assert not verify(BODY + b" ", digest, ["secret"])
    assert not verify(BODY, "sha256=", ["secret"])
    assert not verify(BODY, "é" * 64, ["secret"])


def test_any_secret_of_a_rotation_matches() -> None:
    secrets = parse_secrets(" old , new ,")
    assert secrets == ("old", "new")
    assert verify(BODY, sign(BODY, "old"), secrets)
    assert verify(BODY, sign(BODY, "new"), secrets)
    assert not verify(BODY, sign(BODY, "older"), secrets)
    assert not verify(BODY, sign(BODY, "old"), ())
