"""In-process fakes of the agencies in the linked birth and death services."""

__all__: list[str] = []
