"""Mis-encoded text: the app logs unicode as its UTF-8 bytes read as Latin-1 ("TÃº" for "Tú"),
and often does so twice over ("EsmÃ\x83Â©e" for "Esmée"). The catalogue spells it right."""


def repaired(text: str) -> str:
    """`text` encoded as Latin-1 and decoded as UTF-8, again while that round-trips exactly.
    Text that is not mis-encoded (plain ASCII, real Latin-1 accents) comes back unchanged."""
    while True:
        try:
            decoded = text.encode("latin-1").decode("utf-8")
        except (
            UnicodeError
        ):  # not Latin-1 bytes, or not UTF-8 once read back: as repaired as it gets
            return text
        if decoded == text:
            return text
        text = decoded
