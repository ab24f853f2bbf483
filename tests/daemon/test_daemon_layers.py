# SPDX-License-Identifier: MIT
"""Lambda layers on laminad: PublishLayerVersion / GetLayerVersion / ListLayerVersions /
ListLayers / DeleteLayerVersion, a function's "Layers" merged read-only at /opt in order
(a later layer's file hides an earlier one's), Python finding /opt/python, versions
pinning their layers, and clear errors for bad layer ARNs.

Build first: `make build/bin/laminad build/bin/lamina` (BUILD=… for another build dir).
"""
import json
import os
import subprocess

import pytest

from laminad_harness import BUILD, make_code_dir

LAYER_ARN = "arn:aws:lambda:local:000000000000:layer:"

READER = """
import json, os
def handler(event, context):
    out = {}
    for rel in event.get("read", []):
        try:
            with open("/opt/" + rel) as f:
                out[rel] = f.read()
        except OSError as e:
            out[rel] = "ERR " + type(e).__name__
    try:
        open("/opt/new-file", "w").write("x")
        out["write"] = "ok"
    except OSError as e:
        out["write"] = e.errno
    try:
        import shared
        out["shared"] = shared.VALUE
    except ImportError as e:
        out["shared"] = None
    return out
"""


def publish(client, name, files, root, **extra):
    d = make_code_dir(root, files)
    return client.ok("PublishLayerVersion", LayerName=name, Content={"Directory": str(d)}, **extra)


@pytest.fixture
def two_layers(client, fns):
    base = fns.name("layer")
    a = publish(client, base + "-a", {"data/common.txt": "from A", "data/a.txt": "only A",
                                      "python/shared.py": "VALUE = 'A'\n"}, fns.root)
    b = publish(client, base + "-b", {"data/common.txt": "from B", "data/b.txt": "only B"}, fns.root)
    return a, b


def read(client, name, qualifier=None):
    params = {"Qualifier": qualifier} if qualifier else {}
    r = client.invoke(name, {"read": ["data/common.txt", "data/a.txt", "data/b.txt"]}, **params)
    assert "FunctionError" not in r, r
    return r["Payload"]


def test_publish_layer_version_answers_lambda_shape(client, fns):
    name = fns.name("layer")
    first = publish(client, name, {"x.txt": "1"}, fns.root, Description="d",
                    CompatibleRuntimes=["python3.11"])
    assert first["LayerArn"] == LAYER_ARN + name
    assert first["LayerVersionArn"] == LAYER_ARN + name + ":1"
    assert first["Version"] == 1
    assert first["Description"] == "d"
    assert first["CompatibleRuntimes"] == ["python3.11"]
    assert len(first["Content"]["CodeSha256"]) == 44 and first["Content"]["CodeSize"] == 1
    second = publish(client, name, {"x.txt": "2"}, fns.root)
    assert second["Version"] == 2
    got = client.ok("GetLayerVersion", LayerName=name, VersionNumber=1)
    assert got["LayerVersionArn"] == first["LayerVersionArn"]
    assert client.ok("GetLayerVersionByArn", Arn=second["LayerVersionArn"])["Version"] == 2
    versions = client.ok("ListLayerVersions", LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    listed = {l["LayerName"]: l for l in client.ok("ListLayers")["Layers"]}
    assert listed[name]["LatestMatchingVersion"]["Version"] == 2
    # Numbers are never reused after a deletion, as on Lambda.
    client.ok("DeleteLayerVersion", LayerName=name, VersionNumber=2)
    client.ok("DeleteLayerVersion", LayerName=name, VersionNumber=2)   # missing: success
    client.err("GetLayerVersion", "ResourceNotFoundException", LayerName=name, VersionNumber=2)
    assert publish(client, name, {"x.txt": "3"}, fns.root)["Version"] == 3


def test_layers_merge_at_opt_in_order_and_read_only(client, fns, two_layers):
    a, b = two_layers
    name = fns.python(READER, Layers=[a["LayerVersionArn"], b["LayerVersionArn"]])
    conf = client.ok("GetFunctionConfiguration", FunctionName=name)
    assert [l["Arn"] for l in conf["Layers"]] == [a["LayerVersionArn"], b["LayerVersionArn"]]
    assert conf["Layers"][0]["CodeSize"] == a["Content"]["CodeSize"]
    out = read(client, name)
    assert out["data/common.txt"] == "from B"          # the later layer wins
    assert out["data/a.txt"] == "only A" and out["data/b.txt"] == "only B"
    assert out["shared"] == "A"                        # /opt/python is on sys.path
    assert out["write"] == 30                          # EROFS: /opt is read-only


def test_version_pins_its_layers(client, fns, two_layers):
    a, b = two_layers
    name = fns.python(READER, Layers=[a["LayerVersionArn"], b["LayerVersionArn"]])
    v1 = client.ok("PublishVersion", FunctionName=name)["Version"]
    client.ok("UpdateFunctionConfiguration", FunctionName=name,
              Layers=[b["LayerVersionArn"], a["LayerVersionArn"]])
    assert read(client, name)["data/common.txt"] == "from A"
    assert read(client, name, v1)["data/common.txt"] == "from B"
    # Changing only the layers makes a new version.
    v2 = client.ok("PublishVersion", FunctionName=name)["Version"]
    assert v2 != v1
    client.ok("UpdateFunctionConfiguration", FunctionName=name, Layers=[])
    out = read(client, name)
    assert out["data/common.txt"] == "ERR FileNotFoundError" and out["shared"] is None
    assert "Layers" not in client.ok("GetFunctionConfiguration", FunctionName=name)


def test_deleted_layer_version_stays_for_its_functions(client, fns, start_daemon):
    d = start_daemon("layers-gc")
    with d.client() as c:
        layer = publish(c, fns.name("layer"), {"data/common.txt": "kept"}, fns.root)
        code = fns.code({"app.py": READER})
        name = fns.name("fn")
        c.ok("CreateFunction", FunctionName=name, Runtime="python3.11", Handler="app.handler",
             Code={"Directory": str(code)}, Layers=[layer["LayerVersionArn"]])
        c.ok("DeleteLayerVersion", LayerName=layer["LayerArn"], VersionNumber=layer["Version"])
        # A new function cannot take it any more; the one configured with it keeps it.
        c.err("UpdateFunctionConfiguration", "InvalidParameterValueException", FunctionName=name,
              Layers=[layer["LayerVersionArn"]])
        assert read(c, name)["data/common.txt"] == "kept"
    assert not d.stop()
    # Restarted: the collection at start keeps the content too.
    d2 = start_daemon("layers-gc2", state_dir=d.state_dir)
    with d2.client() as c:
        assert read(c, name)["data/common.txt"] == "kept"


@pytest.mark.parametrize("arn,words", [
    ("arn:aws:lambda:local:000000000000:layer:nope:1", "does not exist"),
    ("arn:aws:lambda:local:000000000000:layer:bad/name:1", "layer version ARN"),
    ("arn:aws:lambda:elsewhere:000000000000:layer:x:1", "layer version ARN"),
    ("arn:aws:lambda:local:000000000000:layer:x", "layer version ARN"),
    ("arn:aws:lambda:local:000000000000:layer:x:0", "layer version ARN"),
])
def test_bad_layer_arn_is_refused_clearly(client, fns, arn, words):
    code = fns.code({"app.py": READER})
    error = client.err("CreateFunction", "InvalidParameterValueException", FunctionName=fns.name(),
                       Runtime="python3.11", Handler="app.handler", Code={"Directory": str(code)},
                       Layers=[arn])
    assert words in error["message"]


def test_layer_limits(client, fns, two_layers):
    a, b = two_layers
    a2 = publish(client, a["LayerArn"].rsplit(":", 1)[1], {"x": "y"}, fns.root)
    name = fns.python(READER)
    error = client.err("UpdateFunctionConfiguration", "InvalidParameterValueException",
                       FunctionName=name, Layers=[a["LayerVersionArn"], a2["LayerVersionArn"]])
    assert "same layer" in error["message"]
    error = client.err("UpdateFunctionConfiguration", "InvalidParameterValueException",
                       FunctionName=name, Layers=[b["LayerVersionArn"]] * 6)
    assert "more than 5" in error["message"]
    client.err("UpdateFunctionConfiguration", "InvalidParameterValueException", FunctionName=name,
               Layers="not-a-list")
    client.err("GetLayerVersion", "ResourceNotFoundException", LayerName="nope", VersionNumber=1)
    client.err("PublishLayerVersion", "InvalidParameterValueException", LayerName="bad name",
               Content={"Directory": "/nonexistent"})


def test_cli_layer_publish_and_deploy_with_layers(daemon, client, fns):
    lamina = BUILD / "bin" / "lamina"
    env = dict(os.environ, LAMINA_SOCKET=str(daemon.socket))
    layer_dir = make_code_dir(fns.root, {"data/common.txt": "cli layer"})
    lname = fns.name("cli-layer")
    out = subprocess.run([str(lamina), "layer", "publish", lname, str(layer_dir)], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    arn = out.stdout.strip()
    assert arn == LAYER_ARN + lname + ":1"
    name = fns.name("cli-fn")
    code = make_code_dir(fns.root, {"app.py": READER, "lamina.json": json.dumps(
        {"FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler", "Layers": [arn]})})
    out = subprocess.run([str(lamina), "deploy", str(code)], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert read(client, name)["data/common.txt"] == "cli layer"
    out = subprocess.run([str(lamina), "layer", "list", lname], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and arn in out.stdout
    out = subprocess.run([str(lamina), "layer", "publish", lname, "/nonexistent"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2


def test_unused_layer_content_is_collected(fns, start_daemon):
    import base64
    import time
    d = start_daemon("layers-collect")
    with d.client() as c:
        layer = publish(c, fns.name("layer"), {"data/only-here.txt": fns.name("unique")}, fns.root)
        hexd = base64.b64decode(layer["Content"]["CodeSha256"]).hex()
        stored = d.state_dir / "images" / "sha256" / hexd
        assert stored.is_dir()
        name = fns.python(READER, client=c, Layers=[layer["LayerVersionArn"]])
        c.ok("DeleteLayerVersion", LayerName=layer["LayerArn"], VersionNumber=1)
        time.sleep(0.3)
        assert stored.is_dir()                          # the function still uses it
        c.ok("DeleteFunction", FunctionName=name)
        deadline = time.time() + 10
        while stored.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert not stored.exists()
