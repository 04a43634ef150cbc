"""Random codes people type: confirmation codes, grant codes. One alphabet without look-alikes."""
import secrets

# No 0/O, 1/I/L: codes are read aloud and typed from paper.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code(length: int = 8) -> str:
    """A random code of `length` characters from the unambiguous alphabet."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalize_code(code: str) -> str:
    """Upper-case and strip what people add when typing a code (spaces, dashes, full-width forms)."""
    import unicodedata

    code = unicodedata.normalize("NFKC", code or "").upper()
    return "".join(ch for ch in code if ch.isalnum())
