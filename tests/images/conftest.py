# SPDX-License-Identifier: MIT
"""Fixtures for the image tests: the daemon harness of tests/daemon (laminad_harness.py)
and helpers that craft image directories and archives (zip, tar, tar.gz) in Python, in
any entry order, with any timestamps, and hostile ones.
"""
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from daemon_fixtures import daemons, start_daemon  # noqa: E402,F401 - fixtures
from laminad_harness import BUILD, LAMINAD  # noqa: E402

LAMINA = BUILD / "bin" / "lamina"


@pytest.fixture(scope="session")
def workdir():
    if not LAMINAD.exists() or not LAMINA.exists():
        pytest.fail(f"{LAMINAD} or {LAMINA} is missing: build first", pytrace=False)
    d = tempfile.mkdtemp(prefix="lamina-image-tests-")
    os.chmod(d, 0o711)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def daemon(daemons):
    """A shared laminad with small image limits (so that the limit tests stay small)."""
    return daemons.start("img", {"KeepAliveSeconds": 60, "ImageMaxUnpackedMB": 40,
                                 "ImageMaxEntries": 500})


@pytest.fixture
def tmp(workdir):
    d = Path(tempfile.mkdtemp(prefix="t-", dir=workdir))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- crafting images

PY_ECHO = (
    "import os\n"
    "def handler(event, context):\n"
    "    return {'event': event, 'name': context.function_name,\n"
    "            'files': sorted(os.listdir('/var/task'))}\n"
)


def files_of(manifest_name="img", extra=None):
    """{path: bytes or (bytes, mode)}: a python3.11 echo function."""
    import json
    files = {
        "lamina.json": json.dumps({"FunctionName": manifest_name, "Runtime": "python3.11",
                                   "Handler": "app.handler"}).encode(),
        "app.py": PY_ECHO.encode(),
        "lib/helper.py": b"X = 1\n",
        "bin/tool": (b"#!/bin/sh\necho tool\n", 0o755),
    }
    files.update(extra or {})
    return files


def _norm(content):
    if isinstance(content, tuple):
        return content
    return content, 0o644


def write_dir(root, files, links=None):
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        data, mode = _norm(content)
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.chmod(p, mode)
    for rel, target in (links or {}).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)
    for dirpath, _, _ in os.walk(root):
        os.chmod(dirpath, 0o755)
    return root


def write_zip(path, files, order=None, dirs=(), links=None, date=(2001, 2, 3, 4, 5, 6),
              compression=zipfile.ZIP_DEFLATED):
    names = list(order or files)
    with zipfile.ZipFile(path, "w", compression) as z:
        for d in dirs:
            zi = zipfile.ZipInfo(d.rstrip("/") + "/", date_time=date)
            zi.external_attr = (0o40755 << 16) | 0x10
            z.writestr(zi, b"")
        for name in names:
            data, mode = _norm(files[name])
            zi = zipfile.ZipInfo(name, date_time=date)
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = compression
            z.writestr(zi, data)
        for name, target in (links or {}).items():
            zi = zipfile.ZipInfo(name, date_time=date)
            zi.external_attr = (0o120777 << 16)
            z.writestr(zi, target)
    os.chmod(path, 0o644)
    return path


def tar_add(t, name, data=b"", mode=0o644, type=tarfile.REGTYPE, linkname="", mtime=1000000,
            uid=0, devmajor=0):
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.mode = mode
    ti.mtime = mtime
    ti.uid = ti.gid = uid
    ti.linkname = linkname
    ti.devmajor = devmajor
    if type == tarfile.REGTYPE:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)


def write_tar(path, files, order=None, gz=False, dirs=(), links=None, mtime=1000000, prefix="",
              fmt=tarfile.PAX_FORMAT, encoding="utf-8"):
    with tarfile.open(path, "w:gz" if gz else "w", format=fmt, encoding=encoding) as t:
        for d in dirs:
            tar_add(t, prefix + d, type=tarfile.DIRTYPE, mode=0o755, mtime=mtime)
        for name in list(order or files):
            data, mode = _norm(files[name])
            tar_add(t, prefix + name, data, mode, mtime=mtime)
        for name, target in (links or {}).items():
            tar_add(t, prefix + name, type=tarfile.SYMTYPE, linkname=target, mode=0o777, mtime=mtime)
    os.chmod(path, 0o644)
    return path


def lamina(*args, check=None, **kw):
    """Runs the CLI; returns CompletedProcess (text)."""
    p = subprocess.run([str(LAMINA), *map(str, args)], capture_output=True, text=True,
                       timeout=120, **kw)
    if check is not None:
        assert p.returncode == check, f"lamina {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def inspect(path):
    import json
    p = lamina("--json", "image", "inspect", path, check=0)
    return json.loads(p.stdout)


def store_images(daemon):
    """The hex names in the daemon's sha256/ directory."""
    d = daemon.state_dir / "images" / "sha256"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def trash_entries(daemon):
    d = daemon.state_dir / "images" / "trash"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def staging_entries(daemon):
    d = daemon.state_dir / "images" / "tmp"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def b64_to_hex(b64):
    import base64
    return base64.b64decode(b64).hex()
