# SPDX-License-Identifier: MIT
"""Container-image functions on laminad: an OCI image layout built here by hand (oci-layout,
index.json, manifest, config, tar and tar.gz layers with whiteouts), deployed as
`oci:DIR` or `oci-archive:FILE`, runs with the image's layers as its whole root file
system (read-only; the host's /usr is not there), its ENTRYPOINT + CMD, WorkingDir and Env,
speaking the Runtime API. Hostile layers are refused.

Build first: `make build/bin/laminad build/bin/lamina build/runtimes/provided-echo/bootstrap`.
"""
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from laminad_harness import BUILD, ECHO_BOOTSTRAP

# A static bootstrap that answers every event with what it sees of its root.
PROBE_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 16];

static const char *slurp(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;
	if (fd < 0) { snprintf(out, n, "ERR%d", errno); return out; }
	r = read(fd, out, n - 1);
	close(fd);
	out[r < 0 ? 0 : r] = 0;
	if (r > 0 && out[r - 1] == '\n') out[r - 1] = 0;
	return out;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* One whole HTTP response into buf (NUL-terminated): 1, or 0 if the peer is gone. */
static int read_response(int fd)
{
	size_t len = 0;
	char *hdr_end, *p;
	long clen;

	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0) return 0;
		len += r; buf[len] = 0;
		if ((hdr_end = strstr(buf, "\r\n\r\n"))) {
			p = strcasestr(buf, "content-length:");
			clen = p ? atol(p + 15) : 0;
			if (len >= (size_t)(hdr_end + 4 - buf) + clen) return 1;
		}
	}
}

int main(int argc, char **argv)
{
	int fd = atoi(getenv("LAMINA_RUNTIME_FD") ? getenv("LAMINA_RUNTIME_FD") : "3");
	for (;;) {
		char req[256], rid[128] = "", body[8192], a[256], b[256], c[256], cwd[256];
		const char *get = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
		char *p; int wfd, werr, tmp_ok;
		if (write(fd, get, strlen(get)) < 0 || !read_response(fd)) return 0;
		p = strcasestr(buf, "lambda-runtime-aws-request-id:");
		if (p) sscanf(p + 30, " %127[^\r\n]", rid);
		wfd = open("/written", O_WRONLY | O_CREAT, 0644);
		werr = wfd < 0 ? errno : 0;
		tmp_ok = open("/tmp/x", O_WRONLY | O_CREAT, 0644) >= 0;
		getcwd(cwd, sizeof(cwd));
		snprintf(body, sizeof(body),
			 "{\"hello\":\"%s\",\"gone\":%d,\"old\":%d,\"new\":\"%s\",\"kept\":\"%s\","
			 "\"usr_python\":%d,\"bin_sh\":%d,\"root_write_errno\":%d,\"tmp_ok\":%d,"
			 "\"cwd\":\"%s\",\"foo\":\"%s\",\"path\":\"%s\",\"fn\":\"%s\",\"argv1\":\"%s\","
			 "\"uid\":%d,\"dev_null\":%d,\"proc\":%d,\"accounts\":%d}",
			 slurp("/etc/hello.txt", a, sizeof(a)), exists("/gone.txt"), exists("/dir/old.txt"),
			 slurp("/dir/new.txt", b, sizeof(b)), slurp("/dir2/kept.txt", c, sizeof(c)),
			 exists("/usr/bin/python3"), exists("/bin/sh"), werr, tmp_ok, cwd,
			 getenv("FOO") ? getenv("FOO") : "", getenv("PATH") ? getenv("PATH") : "",
			 getenv("AWS_LAMBDA_FUNCTION_NAME") ? getenv("AWS_LAMBDA_FUNCTION_NAME") : "",
			 argc > 1 ? argv[1] : "", (int)getuid(), exists("/dev/null"),
			 exists("/proc/self/status"), exists("/etc/lamina/passwd"));
		snprintf(req, sizeof(req),
			 "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", rid, strlen(body));
		if (write(fd, req, strlen(req)) < 0 || write(fd, body, strlen(body)) < 0) return 0;
		/* The 202 of the POST. */
		if (!read_response(fd)) return 0;
	}
}
"""


@pytest.fixture(scope="module")
def probe_binary(tmp_path_factory):
    d = tmp_path_factory.mktemp("oci-probe")
    src = d / "probe.c"
    src.write_text(PROBE_C)
    out = d / "probe"
    r = subprocess.run(["cc", "-static", "-O1", "-D_GNU_SOURCE", "-o", str(out), str(src)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.fail("cannot build the static probe: " + r.stderr, pytrace=False)
    return out.read_bytes()


def tar_bytes(entries, gz=False):
    """entries: (name, kind, data-or-target, mode); kind one of f d l h."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if kind == "d":
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            elif kind == "l":
                info.type = tarfile.SYMTYPE
                info.linkname = data
                t.addfile(info)
            elif kind == "h":
                info.type = tarfile.LNKTYPE
                info.linkname = data
                t.addfile(info)
            elif kind == "c":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
                t.addfile(info)
            else:
                data = data.encode() if isinstance(data, str) else data
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    b = raw.getvalue()
    return gzip.compress(b, mtime=0) if gz else b


def write_layout(root, layers, config, tag="latest"):
    """An OCI image layout in root: layers is a list of (bytes, gzipped)."""
    root = Path(root)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        (blobs / h).write_bytes(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    layer_descs = []
    for data, gz in layers:
        d = blob(data)
        d["mediaType"] = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else "")
        layer_descs.append(d)
    cfg = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": config,
                           "rootfs": {"type": "layers", "diff_ids": []}}).encode())
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = blob(json.dumps({"schemaVersion": 2,
                                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "config": cfg, "layers": layer_descs}).encode())
    manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest]}))
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    return manifest["digest"].split(":")[1]


def archive_of(layout, out):
    with tarfile.open(out, "w") as t:
        for name in ["oci-layout", "index.json", "blobs"]:
            t.add(str(Path(layout) / name), arcname=name)
    os.chmod(out, 0o644)
    return out


def probe_image(root, probe):
    base = tar_bytes([
        ("bin", "d", None, 0o755),
        ("bin/probe", "f", probe, 0o4755),            # setuid: dropped
        ("etc", "d", None, 0o755),
        ("etc/hello.txt", "f", "layer one", 0o644),
        ("gone.txt", "f", "removed by a whiteout", 0o644),
        ("dir/old.txt", "f", "hidden by an opaque dir", 0o644),
        ("dir2/kept.txt", "f", "kept", 0o644),
        ("work", "d", None, 0o755),
        ("dev/null", "c", None, 0o666),                # skipped: lamina's /dev
    ], gz=True)
    top = tar_bytes([
        (".wh.gone.txt", "f", "", 0o644),
        # Before its directory's opaque marker: the marker hides only lower layers.
        ("dir/new.txt", "f", "layer two", 0o644),
        ("dir/.wh..wh..opq", "f", "", 0o644),
        ("etc/hello.txt", "f", "layer two", 0o644),
        ("./bin/sh", "l", "/nonexistent", 0o777),      # dangling: harmless, resolves inside
    ])
    return write_layout(root, [(base, True), (top, False)], {
        "Entrypoint": ["/bin/probe"], "Cmd": ["from-cmd"], "WorkingDir": "/work",
        "Env": ["PATH=/bin", "FOO=bar", "AWS_LAMBDA_FUNCTION_NAME=spoofed"]})


def lamina(daemon, *args):
    env = dict(os.environ, LAMINA_SOCKET=str(daemon.socket))
    return subprocess.run([str(BUILD / "bin" / "lamina"), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_oci_layout_runs_as_the_function_root(client, fns, probe_binary):
    layout = Path(tempfile.mkdtemp(prefix="oci-", dir=fns.root))
    digest = probe_image(layout, probe_binary)
    name = fns.name("oci")
    conf = client.ok("CreateFunction", FunctionName=name, PackageType="Image",
                     Code={"ImageUri": f"oci:{layout}"}, MemorySize=128)
    assert conf["PackageType"] == "Image" and "Runtime" not in conf
    assert conf["ImageUri"] == f"oci:{layout}"
    assert "ImageConfigResponse" not in conf     # only an ImageConfig given is shown
    r = client.invoke(name, {"x": 1})
    assert "FunctionError" not in r, r
    out = r["Payload"]
    assert out["hello"] == "layer two"          # the later layer wins
    assert out["gone"] == 0                      # .wh.gone.txt removed it
    assert out["old"] == 0 and out["new"] == "layer two"   # opaque directory
    assert out["kept"] == "kept"
    assert out["usr_python"] == 0                # the host's /usr is not there
    assert out["bin_sh"] == 0                    # a dangling link resolves inside the image
    assert out["root_write_errno"] == 30         # EROFS
    assert out["tmp_ok"] == 1
    assert out["cwd"] == "/work" and out["argv1"] == "from-cmd"
    assert out["foo"] == "bar" and out["path"] == "/bin"
    assert out["fn"] == name                     # Lambda's variables win over the image's
    assert out["uid"] != 0 and out["dev_null"] == 1 and out["proc"] == 1
    assert out["accounts"] == 1
    # Warm, and stored once under the image's digest.
    assert client.invoke(name, {})["Payload"]["hello"] == "layer two"
    assert conf["CodeSha256"]
    # The same image again: the same content, nothing new unpacked.
    name2 = fns.name("oci")
    conf2 = client.ok("CreateFunction", FunctionName=name2, PackageType="Image",
                      Code={"ImageUri": f"oci:{layout}:latest"})
    assert conf2["CodeSha256"] == conf["CodeSha256"]
    assert digest


def test_oci_archive_with_echo_bootstrap_via_cli(daemon, client, fns):
    layout = Path(tempfile.mkdtemp(prefix="oci-", dir=fns.root))
    layer = tar_bytes([("usr/local/bin/echo", "f", ECHO_BOOTSTRAP.read_bytes(), 0o755),
                       ("etc", "d", None, 0o755)], gz=True)
    write_layout(layout, [(layer, True)], {"Cmd": ["/usr/local/bin/echo"]})
    archive = archive_of(layout, fns.root / f"{layout.name}.tar")
    name = fns.name("oci-echo")
    out = lamina(daemon, "deploy", f"oci-archive:{archive}", "--name", name, "--memory", "256",
                 "--publish")
    assert out.returncode == 0, out.stderr
    r = client.invoke(name, {"echo": [1, "two"]})
    assert r["Payload"] == {"echo": [1, "two"]}
    assert client.ok("GetFunctionConfiguration", FunctionName=name)["MemorySize"] == 256
    assert client.invoke(name, {"v": 1}, Qualifier="1")["Payload"] == {"v": 1}
    listed = lamina(daemon, "list")
    assert listed.returncode == 0 and name in listed.stdout, listed.stderr
    got = lamina(daemon, "get", name)
    assert got.returncode == 0 and "Image" in got.stdout, got.stderr
    # A second deploy updates the code in place (same image: same digest).
    out = lamina(daemon, "deploy", f"oci-archive:{archive}", "--name", name)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("entries,words", [
    ([("../escape", "f", "x", 0o644)], "'..'"),
    ([("a/../../escape", "f", "x", 0o644)], "'..'"),
    ([("bad\x01name", "f", "x", 0o644)], "control character"),
    ([("link", "l", "/etc", 0o777), ("hard", "h", "link", 0o644)], "hard link"),
    ([("hard", "h", "/etc/shadow", 0o644)], "hard link"),
])
def test_hostile_layers_are_refused(client, fns, entries, words):
    layout = Path(tempfile.mkdtemp(prefix="oci-bad-", dir=fns.root))
    write_layout(layout, [(tar_bytes(entries), False)], {"Cmd": ["/x"]})
    error = client.err("CreateFunction", "InvalidParameterValueException", FunctionName=fns.name("bad"),
                       PackageType="Image", Code={"ImageUri": f"oci:{layout}"})
    assert words in error["message"], error


def test_symlinks_in_layers_cannot_write_outside(client, fns, probe_binary):
    """A layer's link to / followed by an entry under it lands inside the image."""
    victim = Path(tempfile.mkdtemp(prefix="victim-", dir=fns.root))
    layout = Path(tempfile.mkdtemp(prefix="oci-link-", dir=fns.root))
    layer = tar_bytes([("bin/probe", "f", probe_binary, 0o755),
                       ("escape", "l", str(victim), 0o777),
                       ("escape/planted", "f", "x", 0o644),
                       ("up", "l", "../../../../../../..", 0o777),
                       ("up" + str(victim) + "/planted2", "f", "x", 0o644)])
    write_layout(layout, [(layer, False)], {"Entrypoint": ["/bin/probe"]})
    name = fns.name("oci-link")
    resp = client.call("CreateFunction", FunctionName=name, PackageType="Image",
                       Code={"ImageUri": f"oci:{layout}"})
    # Refused (the link's target is not a directory inside the image) or applied inside
    # the image: never outside it.
    assert not (victim / "planted").exists() and not (victim / "planted2").exists()
    if resp["ok"]:
        assert "FunctionError" not in client.invoke(name, {})
    else:
        assert resp["error"]["type"] == "InvalidParameterValueException", resp


def test_bad_image_uris(client, fns):
    for uri, kind in [("oci:relative/dir", "InvalidParameterValueException"),
                      ("docker://x", "InvalidParameterValueException"),
                      (f"oci:{fns.root}/nonexistent", "InvalidParameterValueException")]:
        client.err("CreateFunction", kind, FunctionName=fns.name("bad"), PackageType="Image",
                   Code={"ImageUri": uri})
    # A digest that does not match its blob.
    layout = Path(tempfile.mkdtemp(prefix="oci-corrupt-", dir=fns.root))
    write_layout(layout, [(tar_bytes([("x", "f", "x", 0o644)]), False)], {"Cmd": ["/x"]})
    blob = max((layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    for p in (layout / "blobs" / "sha256").iterdir():
        if p.stat().st_size > 1000:
            p.write_bytes(p.read_bytes()[:-1] + b"\1")
    error = client.err("CreateFunction", "InvalidParameterValueException", FunctionName=fns.name("bad"),
                       PackageType="Image", Code={"ImageUri": f"oci:{layout}"})
    assert "digest" in error["message"], (error, blob)


def test_image_config_overrides_the_image(client, fns, probe_binary):
    layout = Path(tempfile.mkdtemp(prefix="oci-", dir=fns.root))
    probe_image(layout, probe_binary)
    name = fns.name("oci-over")
    client.ok("CreateFunction", FunctionName=name, PackageType="Image",
              Code={"ImageUri": f"oci:{layout}"},
              ImageConfig={"Command": ["overridden"], "WorkingDirectory": "/etc"})
    out = client.invoke(name, {})["Payload"]
    assert out["argv1"] == "overridden" and out["cwd"] == "/etc"
    conf = client.ok("GetFunctionConfiguration", FunctionName=name)
    assert conf["ImageConfigResponse"]["ImageConfig"] == {"Command": ["overridden"],
                                                         "WorkingDirectory": "/etc"}
    # A new image keeps the function's ImageConfig; UpdateFunctionConfiguration changes it.
    client.ok("UpdateFunctionCode", FunctionName=name, ImageUri=f"oci:{layout}")
    assert client.invoke(name, {})["Payload"]["argv1"] == "overridden"
    client.ok("UpdateFunctionConfiguration", FunctionName=name,
              ImageConfig={"EntryPoint": ["/bin/probe", "from-config"]})
    out = client.invoke(name, {})["Payload"]
    assert out["argv1"] == "from-config" and out["cwd"] == "/work"
    client.err("UpdateFunctionConfiguration", "InvalidParameterValueException", FunctionName=name,
               ImageConfig={"EntryPoint": "not-a-list"})
    zip_fn = fns.python("def handler(e, c): return 1\n")
    client.err("UpdateFunctionConfiguration", "InvalidParameterValueException",
               FunctionName=zip_fn, ImageConfig={"Command": ["x"]})
    # A zip cannot replace an image's code, nor layers join it.
    code = fns.code({"bootstrap": ("#!/bin/sh\n", 0o755)})
    client.err("UpdateFunctionCode", "InvalidParameterValueException", FunctionName=name,
               Code={"Directory": str(code)})
    layer = client.ok("PublishLayerVersion", LayerName=fns.name("layer"),
                      Content={"Directory": str(fns.code({"x.txt": "x"}))})
    error = client.err("UpdateFunctionConfiguration", "InvalidParameterValueException",
                       FunctionName=name, Layers=[layer["LayerVersionArn"]])
    assert "packageType Image" in error["message"]


def test_image_function_survives_a_restart(fns, start_daemon, probe_binary):
    d = start_daemon("oci-restart")
    layout = Path(tempfile.mkdtemp(prefix="oci-", dir=fns.root))
    probe_image(layout, probe_binary)
    name = fns.name("oci")
    with d.client() as c:
        c.ok("CreateFunction", FunctionName=name, PackageType="Image",
             Code={"ImageUri": f"oci:{layout}"}, Publish=True)
    assert not d.stop()
    d2 = start_daemon("oci-restart2", state_dir=d.state_dir)
    with d2.client() as c:
        assert c.invoke(name, {}, Qualifier="1")["Payload"]["hello"] == "layer two"
