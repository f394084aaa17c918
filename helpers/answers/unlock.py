"""Unlocked explanations: text sealed under keys derived from a question's correct answer.

A solution's markdown cell tagged ``unlock`` (metadata ``{"workbook": {"unlock": qid}}``)
is removed from the student copy and stored in the answer key sealed: the text is
encrypted with AES-GCM (the ``cryptography`` package) under a data key, and the data
key is wrapped, again with AES-GCM, under a key derived with PBKDF2-SHA256 from each
canonical form that :func:`~helpers.answers.judge.judge` accepts
(:func:`~helpers.answers.keying.answer_forms`) (for a real answer,
each accepted bin of the logarithmic grid). ``check`` derives the key from the form
that matched and opens the text; nothing else can.

Everything is deterministic (the nonces are HMACs of what they protect), so
re-releasing an unchanged notebook gives the same bytes.

Examples
--------
>>> box = seal("demo.q", "It is **42**.", ["42"])
>>> open_sealed("demo.q", box, "42")
'It is **42**.'
>>> open_sealed("demo.q", box, "41") is None
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["seal", "open_sealed"]


def _derive(qid, canonical):
    """A 32-byte key from one canonical form (PBKDF2-SHA256, as slow as a digest)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    from helpers.answers.keying import ITERATIONS
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32,
                     salt=f"cnn-cost-workbook-unlock:{qid}".encode(), iterations=ITERATIONS)
    return kdf.derive(canonical.encode())


def _aead(key):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(key)


def _b64(data):
    return base64.b64encode(data).decode()


def seal(qid, text, canonicals):
    """Seal ``text`` so that any one of the answer's ``canonicals`` opens it.

    Returns ``{"text": ..., "keys": [...]}`` (base64): the encrypted text and
    the data key wrapped once per canonical form, sorted so their order says nothing.
    """
    canonicals = sorted(set(canonicals))
    if not canonicals:
        raise ValueError(f"{qid}: nothing to seal the explanation under")
    data_key = hmac.new(_derive(qid, "\n".join(canonicals)), b"data key", hashlib.sha256).digest()
    plain = text.encode()
    nonce = hmac.new(data_key, plain, hashlib.sha256).digest()[:12]
    keys = []
    for canonical in canonicals:
        kek = _derive(qid, canonical)
        wrap_nonce = hmac.new(kek, b"wrap", hashlib.sha256).digest()[:12]
        keys.append(_b64(wrap_nonce + _aead(kek).encrypt(wrap_nonce, data_key, qid.encode())))
    return {"text": _b64(nonce + _aead(data_key).encrypt(nonce, plain, qid.encode())),
            "keys": sorted(keys)}


def open_sealed(qid, sealed, canonical):
    """The text sealed for ``qid`` if ``canonical`` is one of its forms, else None."""
    from cryptography.exceptions import InvalidTag
    try:
        kek = _aead(_derive(qid, canonical))
        for wrapped in sealed["keys"]:
            raw = base64.b64decode(wrapped)
            try:
                data_key = kek.decrypt(raw[:12], raw[12:], qid.encode())
            except InvalidTag:
                continue
            box = base64.b64decode(sealed["text"])
            return _aead(data_key).decrypt(box[:12], box[12:], qid.encode()).decode()
    except (KeyError, TypeError, ValueError, InvalidTag):
        return None
    return None
