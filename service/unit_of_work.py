"""One unit of work per use case: a session that rolls back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    """Context manager around one session; call `commit()` explicitly, else it rolls back."""

    def __init__(self, session_factory: sessionmaker[Any]) -> None:
        self._factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The open session; only valid inside the `with` block."""
        if self._session is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self._factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        # close() rolls back anything uncommitted and detaches loaded objects without expiring
        # them, so a view can still dump what the use case returned.
        self._session.close()
        self._session = None

    def commit(self) -> None:
        """Commit everything done in this unit of work."""
        self.session.commit()

    def rollback(self) -> None:
        """Discard everything not yet committed."""
        self.session.rollback()
