# SPDX-License-Identifier: MIT
"""Deploying images and the content-addressed store: zip and tar.gz deploy and run,
identical content is stored once, versions pin their image, the last reference's end
frees it (never earlier, not even with an instance still running it), a crash in the
middle of a collection loses nothing in use, and a deploy racing a collection of the
same content keeps it."""
import base64
import json
import os
import shutil
import threading
import time
import uuid

from conftest import (b64_to_hex, files_of, store_images, staging_entries, trash_entries,
                      write_dir, write_tar, write_zip)
from laminad_harness import wait_for


def _name(prefix="img"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create(c, name, code, **kw):
    params = dict(FunctionName=name, Runtime="python3.11", Handler="app.handler", Timeout=10,
                  Code=code)
    params.update(kw)
    return c.ok("CreateFunction", **params)


def _payload(result):
    p = result["Payload"]
    return json.loads(p) if isinstance(p, str) else p


def _gone(daemon, hexes):
    return wait_for(lambda: not set(hexes) & set(store_images(daemon)), 10)


def test_zip_and_targz_deploy_and_invoke(tmp, daemon):
    files = files_of()
    z = write_zip(tmp / "fn.zip", files)
    g = write_tar(tmp / "fn.tar.gz", files, gz=True)
    with daemon.client() as c:
        for path in (z, g):
            name = _name()
            conf = _create(c, name, {"ImageFile": str(path)})
            r = c.invoke(name, {"k": 1})
            assert "FunctionError" not in r, r
            out = _payload(r)
            assert out["event"] == {"k": 1} and out["name"] == name
            assert out["files"] == ["app.py", "bin", "lamina.json", "lib"]
            assert b64_to_hex(conf["CodeSha256"]) in store_images(daemon)
            c.ok("DeleteFunction", FunctionName=name)


def test_zipfile_base64_deploys(tmp, daemon):
    z = write_zip(tmp / "fn.zip", files_of())
    name = _name()
    with daemon.client() as c:
        _create(c, name, {"ZipFile": base64.b64encode(z.read_bytes()).decode()})
        assert _payload(c.invoke(name, {"z": True}))["event"] == {"z": True}
        c.ok("DeleteFunction", FunctionName=name)


def test_code_forms_are_checked(daemon):
    with daemon.client() as c:
        for code in ({}, {"S3Bucket": "b"}, {"Directory": "relative"}, {"ImageFile": "x.zip"},
                     {"Directory": "/a", "ImageFile": "/b"}, "nope", {"ZipFile": "!!!notbase64"}):
            c.err("CreateFunction", "InvalidParameterValueException", FunctionName=_name(),
                  Runtime="python3.11", Handler="app.handler", Code=code)


def test_identical_content_is_stored_once(tmp, daemon):
    files = files_of(extra={"unique": uuid.uuid4().hex.encode()})
    d = write_dir(tmp / "dir", files)
    z = write_zip(tmp / "a.zip", files)
    t = write_tar(tmp / "a.tar.gz", files, gz=True, order=list(reversed(list(files))))
    before = set(store_images(daemon))
    names, shas = [], set()
    with daemon.client() as c:
        for code in ({"Directory": str(d)}, {"ImageFile": str(z)}, {"ImageFile": str(t)}):
            names.append(_name())
            shas.add(_create(c, names[-1], code)["CodeSha256"])
        assert len(shas) == 1
        new = set(store_images(daemon)) - before
        assert new == {b64_to_hex(shas.pop())}
        for n in names:
            c.ok("DeleteFunction", FunctionName=n)
    assert _gone(daemon, new)


def test_versions_pin_their_image_and_the_last_reference_frees_it(tmp, daemon):
    a = write_zip(tmp / "a.zip", files_of(extra={"v": b"1" + uuid.uuid4().hex.encode()}))
    b = write_zip(tmp / "b.zip", files_of(extra={"v": b"2" + uuid.uuid4().hex.encode()}))
    name = _name()
    with daemon.client() as c:
        hex_a = b64_to_hex(_create(c, name, {"ImageFile": str(a)}, Publish=True)["CodeSha256"])
        hex_b = b64_to_hex(c.ok("UpdateFunctionCode", FunctionName=name,
                                Code={"ImageFile": str(b)})["CodeSha256"])
        # Version 1 still runs the first image.
        assert hex_a in store_images(daemon) and hex_b in store_images(daemon)
        assert _payload(c.invoke(name, {}, Qualifier="1"))["event"] == {}
        c.ok("DeleteFunction", FunctionName=name, Qualifier="1")
        assert _gone(daemon, [hex_a])
        assert hex_b in store_images(daemon)
        # An update that leaves $LATEST's old image unused frees it too.
        hex_a2 = b64_to_hex(c.ok("UpdateFunctionCode", FunctionName=name,
                                 Code={"ImageFile": str(a)})["CodeSha256"])
        assert hex_a2 == hex_a
        assert _gone(daemon, [hex_b])
        c.ok("DeleteFunction", FunctionName=name)
    assert _gone(daemon, [hex_a])
    assert wait_for(lambda: not [t for t in trash_entries(daemon)], 10), trash_entries(daemon)


def test_an_image_stays_while_an_instance_runs_it(tmp, daemon):
    files = files_of(extra={
        "app.py": (b"import time\n"
                   b"def handler(event, context):\n"
                   b"    time.sleep(event.get('sleep', 0))\n"
                   b"    import late_module\n"
                   b"    return {'late': late_module.VALUE}\n"),
        "late_module.py": ("VALUE = '%s'\n" % uuid.uuid4().hex).encode(),
    })
    z = write_zip(tmp / "slow.zip", files)
    name = _name("slow")
    with daemon.client() as c:
        hx = b64_to_hex(_create(c, name, {"ImageFile": str(z)})["CodeSha256"])
    with daemon.client() as c1, daemon.client() as c2:
        rid = c1.send("Invoke", FunctionName=name, Payload={"sleep": 1.5})
        time.sleep(0.7)
        c2.ok("DeleteFunction", FunctionName=name)
        time.sleep(0.2)
        assert hx in store_images(daemon), "collected while an instance ran it"
        r = c1.recv(rid)
        assert r["ok"] and "FunctionError" not in r, r
        assert _payload(r)["late"]
    assert _gone(daemon, [hx])


def test_deploys_racing_collections_keep_their_image(tmp, daemon):
    """Each round deletes a function using image X while another deploy of X is in
    flight: whatever the interleaving, the new function's image is there and runs."""
    files = files_of(extra={"race": uuid.uuid4().hex.encode()})
    z = write_zip(tmp / "race.zip", files)
    d = write_dir(tmp / "race-dir", files)
    with daemon.client() as c:
        old = _name("race")
        _create(c, old, {"ImageFile": str(z)})
    for i in range(8):
        new = _name("race")
        errors = []

        def deploy():
            try:
                with daemon.client() as c:
                    _create(c, new, {"Directory": str(d)} if i % 2 else {"ImageFile": str(z)})
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=deploy)
        t.start()
        with daemon.client() as c:
            c.ok("DeleteFunction", FunctionName=old)
        t.join(60)
        assert not errors, errors
        with daemon.client() as c:
            conf = c.ok("GetFunctionConfiguration", FunctionName=new)
            assert b64_to_hex(conf["CodeSha256"]) in store_images(daemon)
            assert "FunctionError" not in c.invoke(new, {"round": i})
        old = new
    with daemon.client() as c:
        c.ok("DeleteFunction", FunctionName=old)
    assert not staging_entries(daemon)


def test_a_failed_create_leaves_no_image(tmp, daemon):
    files = files_of(extra={"orphan": uuid.uuid4().hex.encode()})
    z = write_zip(tmp / "o.zip", files)
    name = _name()
    with daemon.client() as c:
        hx = b64_to_hex(_create(c, name, {"ImageFile": str(z)})["CodeSha256"])
        other = write_zip(tmp / "o2.zip", files_of(extra={"orphan2": uuid.uuid4().hex.encode()}))
        # Same name again: refused after the code was stored; that code is garbage.
        before = set(store_images(daemon))
        c.err("CreateFunction", "ResourceConflictException", FunctionName=name,
              Runtime="python3.11", Handler="app.handler", Code={"ImageFile": str(other)})
        assert wait_for(lambda: set(store_images(daemon)) <= before, 10)
        c.ok("DeleteFunction", FunctionName=name)
    assert _gone(daemon, [hx])


def test_crash_mid_collection_is_finished_or_undone_on_start(tmp, start_daemon):
    """The states a crash can leave, made by hand while the daemon is down: an image in
    use found in the trash (restored), an unused one in sha256/ (collected), one half
    deleted (finished), a staging directory (removed)."""
    d = start_daemon("crash1")
    used = write_zip(tmp / "used.zip", files_of(extra={"u": uuid.uuid4().hex.encode()}))
    unused = write_zip(tmp / "unused.zip", files_of(extra={"n": uuid.uuid4().hex.encode()}))
    with d.client() as c:
        hex_used = b64_to_hex(_create(c, "keeper", {"ImageFile": str(used)})["CodeSha256"])
        hex_unused = b64_to_hex(_create(c, "goner", {"ImageFile": str(unused)})["CodeSha256"])
    d.kill9()
    images = d.state_dir / "images"
    # "goner" stays referenced; the unreferenced image is a copy under another name.
    os.rename(images / "sha256" / hex_used, images / "trash" / f"{hex_used}.17")
    shutil.copytree(images / "sha256" / hex_unused, images / "sha256" / ("f" * 64))
    half = images / "trash" / ("e" * 64 + ".3.del")
    (half / "sub").mkdir(parents=True)
    (half / "sub" / "x").write_text("x")
    stage = images / "tmp" / "stage-crashed"
    (stage / "lib").mkdir(parents=True)
    (stage / "lib" / "y").write_text("y")

    d2 = start_daemon("crash1", state_dir=d.state_dir)
    with d2.client() as c:
        assert hex_used in store_images(d2), "an image in use was not restored"
        assert _payload(c.invoke("keeper", {"after": "crash"}))["event"] == {"after": "crash"}
        assert hex_unused in store_images(d2)
        assert wait_for(lambda: ("f" * 64) not in store_images(d2), 10)
        assert wait_for(lambda: not trash_entries(d2), 10), trash_entries(d2)
        assert not staging_entries(d2)
        c.ok("DeleteFunction", FunctionName="goner")
        assert _gone(d2, [hex_unused])
        c.ok("DeleteFunction", FunctionName="keeper")
        assert _gone(d2, [hex_used])


def test_kill9_during_collection_loses_nothing_in_use(tmp, start_daemon):
    d = start_daemon("crash2")
    big = {f"pkg/m{i}.py": os.urandom(2048) for i in range(3000)}
    keep = write_zip(tmp / "keep.zip", files_of(extra={"k": uuid.uuid4().hex.encode()}))
    bulky = write_zip(tmp / "bulky.zip", files_of(extra=big), compression=0)
    with d.client() as c:
        hex_keep = b64_to_hex(_create(c, "keep", {"ImageFile": str(keep)})["CodeSha256"])
        hex_bulky = b64_to_hex(_create(c, "bulky", {"ImageFile": str(bulky)})["CodeSha256"])
        c.ok("DeleteFunction", FunctionName="bulky")
    d.kill9()
    d2 = start_daemon("crash2", state_dir=d.state_dir)
    with d2.client() as c:
        assert _payload(c.invoke("keep", {}))["event"] == {}
        assert hex_bulky not in store_images(d2)
        assert wait_for(lambda: not trash_entries(d2), 20), trash_entries(d2)
        c.ok("DeleteFunction", FunctionName="keep")
    assert _gone(d2, [hex_keep])


def test_instances_cannot_change_their_image(tmp, daemon):
    files = files_of(extra={"app.py": (
        b"import os\n"
        b"def handler(event, context):\n"
        b"    out = {}\n"
        b"    for what, fn in (('append', lambda: open('/var/task/app.py', 'a')),\n"
        b"                     ('create', lambda: open('/var/task/new.txt', 'w')),\n"
        b"                     ('chmod', lambda: os.chmod('/var/task/app.py', 0o777)),\n"
        b"                     ('unlink', lambda: os.unlink('/var/task/lib/helper.py'))):\n"
        b"        try:\n"
        b"            fn()\n"
        b"            out[what] = 'allowed'\n"
        b"        except OSError as e:\n"
        b"            out[what] = e.__class__.__name__\n"
        b"    return out\n")})
    z = write_zip(tmp / "ro.zip", files)
    name = _name("ro")
    with daemon.client() as c:
        _create(c, name, {"ImageFile": str(z)})
        out = _payload(c.invoke(name, {}))
        c.ok("DeleteFunction", FunctionName=name)
    assert "allowed" not in out.values(), out
