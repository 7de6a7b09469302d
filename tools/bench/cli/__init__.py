"""``python -m tools.bench``: the command lines, thin over the other packages.

May import anything in ``tools.bench``; nothing imports it but ``__main__``.
"""
