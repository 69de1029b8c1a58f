"""The embedded shared cache: files under ``$AFTERCARE_DATA_DIR/cache``.

Used when ``REDIS_URL`` is empty. Every process of one machine (the gunicorn workers,
the Huey worker, management commands) reads and writes the same directory, so login
throttling, API rate limits and the quote form's counters are counted once per machine,
not once per process as with Django's local-memory cache.

Django's ``FileBasedCache`` writes each entry atomically (a temporary file renamed over
the old one) but its ``add`` and ``incr`` are read-then-write: two processes could both
"add" a key or both count from the same value. Here both run under an exclusive
``flock`` on one lock file, and ``incr`` keeps the entry's expiry (Django's generic
``incr`` would reset it to the default timeout). With several machines set ``REDIS_URL``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import time
import zlib
from collections.abc import Iterator

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache


class SharedFileCache(FileBasedCache):
    lock_name = ".counters.lock"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._createdir()
        # One open file description per call: flock then also excludes other threads of
        # this process (Huey's thread workers), not only other processes.
        fd = os.open(os.path.join(self._dir, self.lock_name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        with self._locked():
            return super().add(key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        with self._locked():
            fname = self._key_to_file(key, version)
            try:
                with open(fname, "rb") as f:
                    expiry = pickle.load(f)  # noqa: S301 - our own files, as in Django's
                    if expiry is not None and expiry < time.time():
                        value = self._missing_key
                    else:
                        value = pickle.loads(zlib.decompress(f.read()))  # noqa: S301
            except FileNotFoundError:
                value = self._missing_key
            if value is self._missing_key:
                raise ValueError(f"Key '{key}' not found")
            new_value = value + delta
            # Written in place, one small write at offset 0, not a new file renamed over the
            # old one: on ext4 a rename over a file forces its data to disk (auto_da_alloc),
            # some milliseconds on every API request. Counters only grow, so the record is
            # as long as the old one or longer; a shorter one leaves trailing bytes that the
            # reader never reaches (the expiry is one pickle, the value one zlib stream).
            data = pickle.dumps(expiry, self.pickle_protocol) + zlib.compress(
                pickle.dumps(new_value, self.pickle_protocol)
            )
            fd = os.open(fname, os.O_WRONLY)
            try:
                os.pwrite(fd, data, 0)
            finally:
                os.close(fd)
            return new_value

    def _cull(self) -> None:
        """Drop expired entries first; only then Django's random culling."""
        filelist = self._list_cache_files()
        if len(filelist) < self._max_entries:
            return
        for fname in filelist:
            with (
                contextlib.suppress(FileNotFoundError, EOFError, pickle.UnpicklingError),
                open(fname, "rb") as f,
            ):
                self._is_expired(f)  # deletes the file when it is
        super()._cull()
