"""The imperative shell: load rows, build scoring inputs, call scoring, write and return.

Services `flush()`; the view or CLI command that called them commits once.
"""


class DomainError(ValueError):
    """A rule of the domain was broken; the message is Chinese and shown to the user as it is."""
