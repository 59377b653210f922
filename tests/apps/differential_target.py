"""A function the differential app hooks (a hook target must be importable by name)."""


def handle(kind: str, ok: bool = True) -> str:
    if not ok:
        raise ValueError(kind)
    return kind
