"""Where a run folder lives: a local or mounted path, or an object store named by a `pyarrow.fs`
URI (`s3://bucket/runs`, `gs://bucket/runs`, `s3://bucket/runs?endpoint_override=http://host:9000`).

pyarrow.fs is the file-system layer Ray Train and Tune use for their own storage, so the run's
records, models and checkpoints go through the same client (and the same credentials: the
environment's AWS_* / GOOGLE_* settings) as Ray's. An object is written whole by one PUT, which a
reader sees entire or not at all: the atomic write of a local file (temp + rename) is what a
bucket does by itself. Imports pyarrow only (no torch, no ray).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ray_xr.errors import ClusterError


def is_uri(location: str) -> bool:
    return "://" in str(location)


def join(location: str, name: str) -> str:
    """`location`/`name`, keeping a URI's query (the endpoint options follow the path)."""
    if not is_uri(location):
        return str(Path(location) / name)
    parts = urlsplit(location)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + name))


# query options of pyarrow.fs URIs that carry credentials (access_key, secret_key, session_token,
# GCS's access_token, ...): printed as ***
_SECRET_OPTION = re.compile(r"key|secret|token|password|credential|signature", re.IGNORECASE)


def redact(location: str) -> str:
    """A storage location as it may be printed: a URI's user:password@ part and the values of its
    credential options replaced by ***, everything else (bucket, path, endpoint) kept."""
    if not is_uri(location):
        return str(location)
    parts = urlsplit(str(location))
    host = parts.netloc.rpartition("@")
    netloc = f"***@{host[2]}" if host[1] else parts.netloc
    options = [o.partition("=") for o in parts.query.split("&")] if parts.query else []
    query = "&".join(k + eq + ("***" if eq and _SECRET_OPTION.search(k) else v) for k, eq, v in options)
    if (netloc, query) == (parts.netloc, parts.query):
        return str(location)  # as given (urlunsplit would write s3:// as s3:)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


# File systems that other machines can mount: a path on one of them may be shared by every node
# (the probes check that it is); any other path is on the disk of the machine it is on.
NETWORK_FILE_SYSTEMS = ("nfs", "nfs4", "lustre", "cifs", "smb3", "smbfs", "glusterfs", "gpfs", "beegfs", "ceph",
                        "wekafs", "fuse.glusterfs", "fuse.ceph-fuse", "fuse.gcsfuse", "fuse.s3fs",
                        "fuse.mountpoint-s3", "fuse.juicefs", "fuse.sshfs")


def file_system(path: str | Path) -> str | None:
    """The type of the file system holding `path` (or its nearest existing folder), from
    /proc/self/mounts; None where the system does not say (not Linux)."""
    target = Path(path).resolve()
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1])  # \040: a space
        inside = target == Path(point) or Path(point) in target.parents
        if inside and len(point) >= len(best):  # the last of equal mount points is the one in force
            best, kind = point, fields[2]
    return kind


def check_shared(path: str) -> None:
    """A local --storage for a run on a cluster (--address): fine on a network file system;
    on this machine's own disk the nodes the cluster adds later would not see it."""
    kind = file_system(path)
    if kind in NETWORK_FILE_SYSTEMS:
        return
    raise ClusterError(
        f"--storage {path}: on a cluster (--address) results must go where every node sees them, and"
        f" {Path(path).resolve()} is on this machine's own disk ({kind or 'file system unknown'}); pass a bucket"
        " (s3://BUCKET/runs, gs://BUCKET/runs) or a path on a file system every node mounts (NFS, EFS,"
        " Filestore, Lustre), or add --storage-shared if every node mounts this path (each node checks it)")


def local_cache(uri: str, reader: bool = False) -> Path:
    """This node's working copy of a run folder in object storage: the models it read, its
    feature cache, the records it rendered. RAY_XR_CACHE, else ~/.cache/ray-xr. A `reader`
    (status, report, export) has a copy of its own: on the head node, the aggregator's copy of
    results.jsonl is ahead of the bucket's and must not be replaced by it."""
    base = Path(os.environ.get("RAY_XR_CACHE") or Path.home() / ".cache" / "ray-xr")
    return base / "runs" / (hashlib.sha256(uri.encode()).hexdigest()[:16] + ("-read" if reader else ""))


READ_ATTEMPTS = 20


class Bucket:
    """A run folder in object storage: every path is relative to the folder."""

    def __init__(self, uri: str, option: str = "--storage"):
        """`option` names where the user gave the URI, for the one-line errors."""
        import pyarrow.fs as pafs  # lazy: only runs in a bucket pay for it

        self.uri, self._pafs, self.named = uri, pafs, f"{option} {redact(uri)}".strip()
        try:
            self.fs, self.base = pafs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as err:  # unknown scheme, bad option, no credentials
            raise ClusterError(f"{self.named}: {str(err).splitlines()[0].replace(uri, redact(uri))}") from None
        self.base = self.base.rstrip("/")

    def check(self) -> None:
        """The bucket answers and these credentials may list it: one line now, not a failure
        deep inside the first stage."""
        named, bucket = self.named, self.base.split("/")[0]
        if not bucket:
            raise ClusterError(f"{named}: no bucket named (expected SCHEME://BUCKET/PATH)")
        try:
            found = self.fs.get_file_info(bucket).type != self._pafs.FileType.NotFound
        except OSError as err:
            raise ClusterError(f"{named}: {str(err).splitlines()[0]}") from None
        if not found:
            raise ClusterError(f"{named}: no bucket named {bucket!r} there (create it first)")

    def path(self, rel: str = "") -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def read(self, rel: str) -> bytes | None:
        """The object whole. pyarrow reads one as a HEAD (its size), then ranged GETs: an object
        replaced in between (a stage record going from running to done) reads as the first bytes
        of the new one, so a read whose length is not the object's size is read again."""
        path = self.path(rel)
        for _ in range(READ_ATTEMPTS):
            try:
                with self.fs.open_input_stream(path) as f:
                    data = f.read()
            except FileNotFoundError:
                return None
            info = self.fs.get_file_info(path)
            if info.type == self._pafs.FileType.NotFound:
                return None
            if info.size == len(data):
                return data
        raise ClusterError(f"{self.named}: {rel} kept changing while it was read ({READ_ATTEMPTS} attempts)")

    def write(self, rel: str, data: bytes) -> None:
        with self.fs.open_output_stream(self.path(rel)) as f:
            f.write(data)

    def modified(self, rel: str) -> float | None:
        """When the object was last written, by the store's clock (seconds since the epoch)."""
        info = self.fs.get_file_info(self.path(rel))
        return None if info.type == self._pafs.FileType.NotFound else (info.mtime_ns or 0) / 1e9

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type != self._pafs.FileType.NotFound

    def delete(self, rel: str) -> None:
        info = self.fs.get_file_info(self.path(rel))
        if info.type == self._pafs.FileType.Directory:
            self.fs.delete_dir(self.path(rel))
        elif info.type == self._pafs.FileType.File:
            self.fs.delete_file(self.path(rel))

    def files(self, rel: str = "") -> dict[str, tuple[int, int]]:
        """Every object below `rel`: its path relative to the run folder -> (size, mtime ns)."""
        selector = self._pafs.FileSelector(self.path(rel), recursive=True, allow_not_found=True)
        cut = len(self.base) + 1
        return {info.path[cut:]: (info.size, info.mtime_ns or 0) for info in self.fs.get_file_info(selector)
                if info.type == self._pafs.FileType.File}

    def upload(self, local: Path, rel: str, skip: tuple[str, ...] = ()) -> None:
        """Every file below the local folder `local` to `rel`/..., except those under a folder
        named in `skip`."""
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            inside = path.relative_to(local)
            if not set(inside.parts[:-1]) & set(skip) and not path.name.startswith("."):
                self.write(f"{rel}/{inside.as_posix()}", path.read_bytes())

    def download(self, rel: str, local: Path) -> bool:
        """The objects below `rel` into the local folder `local`, whole or not at all (a
        temporary folder renamed into place); False when there are none. Two workers of one
        node fetching the same folder at once both succeed, and one copy stays."""
        found = self.files(rel)
        if not found:
            return False
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=local.parent, prefix=f".{local.name}.", suffix=".tmp"))
        try:
            for name in found:
                target = tmp / name[len(rel) + 1:]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.read(name) or b"")
            os.chmod(tmp, 0o755)
            try:
                os.replace(tmp, local)
            except OSError:  # another worker put its copy there first
                if not local.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return True
