"""The run lease: one `ray-xr run` at a time per run folder, whichever machine each runs on.

RUN_DIR/lease.json names the run that holds the folder: a random run id, the host and process of
its driver, and a beat count. The driver takes the lease before it writes anything into the
folder; each worker group's storage probe reads it (run/probe.py: a node that sees another
folder, or another run's, stops the run); the aggregator checks it before each upload; the
driver checks it at every heartbeat and stops its trials when another run holds it.

On a local or mounted folder a file lock (`.lock`: flock, which the kernel releases when its
process dies, on NFSv4 too) keeps a second driver out, and lease.json only names the run. In a
bucket a lock cannot be taken: pyarrow.fs, the storage layer, writes objects unconditionally
(S3's If-None-Match and GCS's ifGenerationMatch conditional writes are not reachable through
it). So the lease is taken by a write that is read back:

    read lease.json: another run's lease that beat within EXPIRES_S -> refuse
    write ours; wait SETTLE_S; read it back: ours -> held; another's -> refuse

Two drivers that both found no live lease both write, and the object keeps the last write (S3,
GCS and MinIO are read-after-write consistent). They cannot both win: if A reads back its own
lease, nothing was written in the SETTLE_S after A's write, so B wrote later and read the lease
more than SETTLE_S - (B's read-to-write time) after A's write: it saw A's live lease and
refused. That holds while a read-to-write takes under SETTLE_S; an attempt that took longer is
abandoned and made again. The holder rewrites the lease every HEARTBEAT_S; one that has not
been rewritten for EXPIRES_S (the object's modification time, by the store's clock, against
this machine's: clocks kept within seconds, as NTP does) is a dead run's and may be taken.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid

from filelock import FileLock, Timeout

from ray_xr.errors import RayXRError, RunLockedError
from ray_xr.stages import RunDir

LEASE = "lease.json"
HEARTBEAT_S = 10.0
EXPIRES_S = 60.0
SETTLE_S = 2.0


def holder(run: RunDir) -> dict | None:
    """The lease as the run folder holds it now (None: no run holds the folder)."""
    text = run.read_text(LEASE)
    try:
        return None if text is None else json.loads(text)
    except json.JSONDecodeError:  # a folder's lease is written whole: not ray-xr's
        return None


def check(run: RunDir, run_id: str) -> None:
    """Raises RunLockedError unless the run `run_id` holds the folder."""
    found = holder(run)
    if (found or {}).get("run_id") != run_id:
        raise RunLockedError(f"{run.shown}: this run ({run_id[:8]}) no longer holds the run folder"
                             f" ({_describe(found) if found else 'its lease is gone'}); it stopped")


def _describe(lease: dict) -> str:
    return f"run {lease.get('run_id', '?')[:8]} of {lease.get('host')}, pid {lease.get('pid')}"


class Lease:
    """This driver's hold on a run folder: `acquire`, then `release` (in a finally)."""

    def __init__(self, run: RunDir):
        self.run, self.run_id = run, uuid.uuid4().hex
        self.lost: str | None = None  # why the lease was lost, once another run took it
        self._lock = FileLock(str(run.root / ".lock"), thread_local=False)
        self._beats, self._stop = 0, threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the folder, or end in one line (RunLockedError) when another run holds it."""
        self.run.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)  # this machine's drivers, and every driver of a mounted folder
        except Timeout:
            raise RunLockedError(f"{self.run.shown}: another `ray-xr run` is using this run folder; wait for it to"
                                 " end, or give this one another --storage") from None
        try:
            if self.run.bucket:
                self._take()
                self._thread = threading.Thread(target=self._heartbeat, name="ray-xr-lease", daemon=True)
                self._thread.start()
            else:
                self._write()
        except BaseException:  # refused, interrupted, or the storage failed: leave nothing behind
            with contextlib.suppress(OSError, RayXRError):
                self.release()
            self._lock.release()
            raise

    def _take(self) -> None:
        for _ in range(3):
            began = time.monotonic()
            found = holder(self.run)
            if found and found.get("run_id") != self.run_id:
                age = time.time() - (self.run.bucket.modified(LEASE) or 0.0)
                if age < EXPIRES_S:
                    raise RunLockedError(
                        f"{self.run.shown}: another `ray-xr run` is using this run folder ({_describe(found)},"
                        f" last heartbeat {age:.0f} s ago; a run that died frees it {EXPIRES_S:.0f} s after its"
                        " last heartbeat); wait for it to end, or give this one another --storage")
            self._write()
            if time.monotonic() - began >= SETTLE_S:
                continue  # too slow to rule out a driver that wrote in between: read and write again
            time.sleep(SETTLE_S)
            found = holder(self.run) or {}
            if found.get("run_id") == self.run_id:
                return
            raise RunLockedError(f"{self.run.shown}: another `ray-xr run` took this run folder at the same moment"
                                 f" ({_describe(found)}); wait for it to end, or give this one another --storage")
        raise RunLockedError(f"{self.run.shown}: the lease could not be written and read back within {SETTLE_S:.0f} s"
                             " (a slow bucket); try again")

    def _write(self) -> None:
        self._beats += 1
        self.run.write_json(LEASE, {"run_id": self.run_id, "host": socket.gethostname(), "pid": os.getpid(),
                                    "beats": self._beats})

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S) and self.beat():
            pass

    def beat(self) -> bool:
        """Rewrite the lease while it is this run's; False (and `lost` says why) once it is not."""
        try:
            found = holder(self.run) or {}
            if found.get("run_id") != self.run_id:
                self.lost = (f"{self.run.shown}: another `ray-xr run` took over this run folder"
                             f" ({_describe(found) if found else 'the lease was deleted'}); this run stopped")
                return False
            self._write()
        except (OSError, RayXRError):
            pass  # a failed request: the next beat tries again, well within EXPIRES_S
        return True

    def release(self) -> None:
        """Stop beating, remove the lease if it is still this run's, free the lock."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        try:
            if (holder(self.run) or {}).get("run_id") == self.run_id:
                self.run.clear(LEASE)  # a bucket's lease now, not in EXPIRES_S
        finally:
            self._lock.release()
