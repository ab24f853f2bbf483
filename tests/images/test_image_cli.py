# SPDX-License-Identifier: MIT
"""`lamina image build` writes deterministic archives, `lamina image inspect` reports an
image, and `lamina deploy` takes archives (reading lamina.json inside them) and shows a
progress bar on a terminal only."""
import json
import os
import pty
import select
import shutil
import subprocess
import time
import uuid

from conftest import LAMINA, files_of, inspect, lamina, write_dir, write_tar, write_zip


def _tree(root, files, links=None):
    return write_dir(root, files, links)


def test_build_is_deterministic_across_runs_times_and_creation_order(tmp):
    files = files_of(extra={"dir/sub/é-ü.txt": "unicode ✓".encode(), "empty/.keep": b""})
    links = {"lib/alias.py": "helper.py"}
    a = _tree(tmp / "a", files, links)
    # The same content written in the opposite order, with other times and modes.
    b = tmp / "b"
    for rel in reversed(list(files)):
        data, mode = files[rel] if isinstance(files[rel], tuple) else (files[rel], 0o600)
        p = b / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.chmod(p, mode)
        os.utime(p, (12345, 67890))
    os.symlink("helper.py", b / "lib/alias.py")
    for suffix in ("zip", "tar.gz", "tar"):
        out1, out2, out3 = (tmp / f"{n}.{suffix}" for n in ("one", "two", "three"))
        lamina("image", "build", a, "-o", out1, check=0)
        time.sleep(1.1)  # a second later: no timestamp may leak in
        lamina("image", "build", a, "-o", out2, check=0)
        lamina("image", "build", b, "-o", out3, check=0)
        assert out1.read_bytes() == out2.read_bytes(), f".{suffix} differs between runs"
        assert out1.read_bytes() == out3.read_bytes(), f".{suffix} differs for the same content"
        assert inspect(out1)["CodeSha256"] == inspect(a)["CodeSha256"]
    assert not [p for p in tmp.iterdir() if ".tmp-" in p.name]


def test_built_archives_are_readable_by_standard_tools(tmp):
    import tarfile
    import zipfile
    a = _tree(tmp / "a", files_of())
    lamina("image", "build", a, "-o", tmp / "x.zip", check=0)
    lamina("image", "build", a, "-o", tmp / "x.tgz", check=0)
    with zipfile.ZipFile(tmp / "x.zip") as z:
        assert z.testzip() is None
        names = z.namelist()
        assert names == sorted(names, key=lambda n: n.rstrip("/").split("/"))
        assert z.read("app.py") == files_of()["app.py"]
        info = z.getinfo("bin/tool")
        assert (info.external_attr >> 16) & 0o777 == 0o755
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
    with tarfile.open(tmp / "x.tgz") as t:
        for m in t.getmembers():
            assert m.uid == 0 and m.gid == 0 and m.mtime == 315532800
        assert t.extractfile("lamina.json").read() == files_of()["lamina.json"]


def test_build_usage_errors(tmp):
    a = _tree(tmp / "a", files_of())
    assert lamina("image", "build", a).returncode == 2                       # no -o
    assert lamina("image", "build", a, "-o", tmp / "x.rar").returncode == 2  # unknown suffix
    no_manifest = _tree(tmp / "nm", {"app.py": b"x"})
    p = lamina("image", "build", no_manifest, "-o", tmp / "nm.zip")
    assert p.returncode == 2 and "lamina.json" in p.stderr
    assert lamina("image", "build", tmp / "missing", "-o", tmp / "m.zip").returncode == 2
    os.symlink("/etc/passwd", a / "pw")
    p = lamina("image", "build", a, "-o", tmp / "bad.zip")
    assert p.returncode == 3 and "pw" in p.stderr
    assert not (tmp / "bad.zip").exists()
    assert lamina("image").returncode == 2
    assert lamina("image", "frobnicate").returncode == 2


def test_inspect_reports_manifest_counts_size_and_digest(tmp):
    z = write_zip(tmp / "i.zip", files_of("inspected"), links={"l": "app.py"})
    p = lamina("image", "inspect", z, check=0)
    info = inspect(z)
    assert info["Manifest"]["FunctionName"] == "inspected"
    assert info["Format"] == "zip" and info["Size"] == z.stat().st_size
    assert info["Files"] == 4 and info["Links"] == 1 and info["Directories"] == 2
    assert info["Digest"].startswith("sha256:") and len(info["Digest"]) == 71
    for text in ("inspected", info["CodeSha256"], info["Digest"], str(info["UnpackedSize"]), "4"):
        assert text in p.stdout, (text, p.stdout)
    assert lamina("image", "inspect", tmp / "nothing.zip").returncode == 2


def test_deploy_archives_with_the_manifest_inside(tmp, daemon):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    src = _tree(tmp / "src", files_of(name))
    env = dict(os.environ, LAMINA_SOCKET=str(daemon.socket))
    for suffix in ("zip", "tar.gz"):
        out = tmp / f"fn.{suffix}"
        lamina("image", "build", src, "-o", out, check=0)
        p = lamina("deploy", out, env=env, check=0)
        assert f"deployed {name}" in p.stdout and p.stderr == "", (p.stdout, p.stderr)
        p = lamina("invoke", name, "--payload", '{"via": "cli"}', env=env, check=0)
        assert json.loads(p.stdout)["event"] == {"via": "cli"}
    # Flags override the archive's manifest.
    other = f"cli-{uuid.uuid4().hex[:8]}"
    lamina("deploy", tmp / "fn.zip", "--name", other, "--memory", "256", env=env, check=0)
    conf = json.loads(lamina("--json", "get", other, env=env, check=0).stdout)
    conf = conf.get("Configuration", conf)
    assert conf["MemorySize"] == 256
    for fn in (name, other):
        lamina("delete", fn, env=env, check=0)


def test_deploy_of_an_archive_without_manifest_or_not_an_archive(tmp, daemon):
    env = dict(os.environ, LAMINA_SOCKET=str(daemon.socket))
    nm = write_zip(tmp / "nm.zip", {"app.py": b"x"})
    p = lamina("deploy", nm, env=env)
    assert p.returncode == 2 and "lamina.json" in p.stderr
    junk = tmp / "junk.zip"
    junk.write_bytes(b"junk" * 100)
    p = lamina("deploy", junk, env=env)
    assert p.returncode == 2 and "archive" in p.stderr
    hostile = write_tar(tmp / "h.tar", files_of(f"h-{uuid.uuid4().hex[:6]}"),
                        links={"up": "../../.."})
    p = lamina("deploy", hostile, env=env)
    assert p.returncode == 3 and "up" in p.stderr and "outside" in p.stderr


def _run_on_pty(args, env, timeout=120):
    """Runs the CLI with stderr on a terminal; returns (exit, stdout, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(LAMINA), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    out = proc.stdout.read().decode()
    rc = proc.wait(10)
    os.close(master)
    return rc, out, b"".join(chunks).decode(errors="replace")


def test_deploy_shows_a_progress_bar_on_a_terminal_for_large_images(tmp, daemon):
    name = f"big-{uuid.uuid4().hex[:8]}"
    src = _tree(tmp / "big", files_of(name, extra={
        f"data/blob{i}.bin": os.urandom(1 << 20) for i in range(12)}))
    archive = tmp / "big.zip"
    lamina("image", "build", src, "-o", archive, check=0)
    env = dict(os.environ, LAMINA_SOCKET=str(daemon.socket))
    fifos_before = {p for p in os.listdir("/tmp") if p.startswith("lamina-progress-")}
    rc, out, term = _run_on_pty(["deploy", archive], env)
    assert rc == 0, (out, term)
    assert f"deployed {name}" in out
    assert "deploying big.zip [" in term and "100%" in term, repr(term)
    assert term.rstrip().endswith("MB"), repr(term)
    # Not on a terminal: no bar at all.
    p = lamina("deploy", archive, env=env, check=0)
    assert p.stderr == "", p.stderr
    # A directory is measured too; small images get no bar even on a terminal.
    rc, out, term = _run_on_pty(["deploy", src], env)
    assert rc == 0 and "100%" in term, (out, term)
    small = _tree(tmp / "small", files_of(name))
    rc, out, term = _run_on_pty(["deploy", small], env)
    assert rc == 0 and "%" not in term, repr(term)
    lamina("delete", name, env=env, check=0)
    assert {p for p in os.listdir("/tmp") if p.startswith("lamina-progress-")} <= fifos_before
    shutil.rmtree(src)
