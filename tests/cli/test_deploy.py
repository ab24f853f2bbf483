# SPDX-License-Identifier: MIT
"""lamina deploy: manifest and flags into CreateFunction or UpdateFunctionCode/Configuration."""
import json
import os

import pytest

from fakedaemon import configuration, err, ok

MANIFEST = {
    "FunctionName": "hello",
    "Runtime": "python3.11",
    "Handler": "app.handler",
    "MemorySize": 256,
    "Timeout": 10,
    "Description": "says hello",
    "Environment": {"Variables": {"A": "1", "B": "2"}},
    "EphemeralStorage": {"Size": 1024},
}


def image(workdir, manifest=MANIFEST, raw=None, name="img"):
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "app.py"), "w") as f:
        f.write("def handler(event, context):\n    return event\n")
    if raw is not None or manifest is not None:
        with open(os.path.join(d, "lamina.json"), "w") as f:
            f.write(raw if raw is not None else json.dumps(manifest))
    return d


NOT_FOUND = err("ResourceNotFoundException", "Function not found: hello")


def test_deploy_creates_a_function_that_does_not_exist(daemon, workdir):
    d = image(workdir)
    daemon.answer(NOT_FOUND, ok(**configuration(MemorySize=256, Timeout=10)))
    r = daemon.run("deploy", d)
    assert r.returncode == 0, r.err
    assert daemon.calls() == [
        {"action": "GetFunction", "FunctionName": "hello"},
        {"action": "CreateFunction", "FunctionName": "hello", "Runtime": "python3.11",
         "Handler": "app.handler", "Description": "says hello", "MemorySize": 256,
         "Timeout": 10, "Environment": {"Variables": {"A": "1", "B": "2"}},
         "EphemeralStorage": {"Size": 1024}, "Code": {"Directory": d}, "Publish": False},
    ]
    assert r.out == ("deployed hello $LATEST (CodeSha256 "
                     "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=, 256 MB, 10 s)\n")


def test_deploy_updates_code_then_configuration_of_an_existing_function(daemon, workdir):
    d = image(workdir)
    daemon.answer(ok(Configuration=configuration()), ok(**configuration()),
                  ok(**configuration(MemorySize=256, Timeout=10)))
    r = daemon.run("deploy", d)
    assert r.returncode == 0, r.err
    assert daemon.calls() == [
        {"action": "GetFunction", "FunctionName": "hello"},
        {"action": "UpdateFunctionCode", "FunctionName": "hello",
         "Code": {"Directory": d}, "Publish": False},
        {"action": "UpdateFunctionConfiguration", "FunctionName": "hello",
         "Runtime": "python3.11", "Handler": "app.handler", "Description": "says hello",
         "MemorySize": 256, "Timeout": 10, "Environment": {"Variables": {"A": "1", "B": "2"}},
         "EphemeralStorage": {"Size": 1024}},
    ]
    assert r.out.startswith("deployed hello $LATEST (CodeSha256 ")
    assert r.out.endswith(", 256 MB, 10 s)\n")


def test_deploy_sends_the_absolute_resolved_directory(daemon, workdir):
    d = image(workdir)
    os.symlink(d, os.path.join(workdir, "link"))
    daemon.answer(NOT_FOUND, ok(**configuration()))
    r = daemon.run("deploy", "./link/", cwd=workdir)
    assert r.returncode == 0, r.err
    assert daemon.calls()[1]["Code"] == {"Directory": os.path.realpath(d)}


def test_deploy_flags_override_the_manifest(daemon, workdir):
    d = image(workdir)
    daemon.answer(err("ResourceNotFoundException", "no"), ok(**configuration("other")))
    r = daemon.run("deploy", d, "--name", "other", "--runtime", "nodejs20.x",
                   "--handler", "index.handler", "--memory", "512", "--timeout", "30",
                   "--env", "B=3", "--env", "C=x=y")
    assert r.returncode == 0, r.err
    get, create = daemon.calls()
    assert get == {"action": "GetFunction", "FunctionName": "other"}
    assert create["FunctionName"] == "other"
    assert create["Runtime"] == "nodejs20.x"
    assert create["Handler"] == "index.handler"
    assert create["MemorySize"] == 512
    assert create["Timeout"] == 30
    # --env adds to the manifest's variables; a key given again replaces its value.
    assert create["Environment"] == {"Variables": {"A": "1", "B": "3", "C": "x=y"}}
    assert create["Description"] == "says hello"


def test_deploy_flags_supply_what_the_manifest_lacks(daemon, workdir):
    d = image(workdir, manifest={"Runtime": "provided"})
    daemon.answer(NOT_FOUND, ok(**configuration("bare", Runtime="provided")))
    r = daemon.run("deploy", d, "--name", "bare", "--handler", "bootstrap")
    assert r.returncode == 0, r.err
    assert daemon.calls()[1] == {
        "action": "CreateFunction", "FunctionName": "bare", "Runtime": "provided",
        "Handler": "bootstrap", "Code": {"Directory": d}, "Publish": False}


def test_deploy_publish_on_create_publishes_with_the_code(daemon, workdir):
    d = image(workdir)
    daemon.answer(NOT_FOUND, ok(**configuration(Version="1")))
    r = daemon.run("deploy", d, "--publish")
    assert r.returncode == 0, r.err
    assert daemon.actions() == ["GetFunction", "CreateFunction"]
    assert daemon.calls()[1]["Publish"] is True
    assert r.out.splitlines()[1] == "published hello version 1"


def test_deploy_publish_on_update_publishes_after_the_configuration(daemon, workdir):
    d = image(workdir)
    daemon.answer(ok(Configuration=configuration()), ok(**configuration()),
                  ok(**configuration()), ok(**configuration(Version="2")))
    r = daemon.run("deploy", d, "--publish")
    assert r.returncode == 0, r.err
    assert daemon.actions() == ["GetFunction", "UpdateFunctionCode",
                                "UpdateFunctionConfiguration", "PublishVersion"]
    assert daemon.calls()[1]["Publish"] is False
    assert daemon.calls()[3] == {"action": "PublishVersion", "FunctionName": "hello"}
    lines = r.out.splitlines()
    assert lines[0].startswith("deployed hello $LATEST (CodeSha256 ")
    assert lines[1] == "published hello version 2"


def test_deploy_json_prints_the_resulting_configuration(daemon, workdir):
    d = image(workdir)
    conf = configuration(Version="3", MemorySize=256)
    daemon.answer(NOT_FOUND, ok(**conf))
    r = daemon.run("--json", "deploy", d, "--publish")
    assert r.returncode == 0, r.err
    assert json.loads(r.out) == conf


@pytest.mark.parametrize("raw, message", [
    (None, "no lamina.json"),
    ("{\"FunctionName\": \"x\",\n  oops}", "line 2"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({**MANIFEST, "MemorySize": "big"}), "MemorySize must be a whole number"),
    (json.dumps({**MANIFEST, "Environment": {"Variables": {"A": 1}}}),
     "Environment.Variables.A must be a string"),
    (json.dumps({**MANIFEST, "Environment": {"A": "1"}}), "Environment must be"),
])
def test_deploy_bad_manifest_is_a_usage_error_and_sends_nothing(daemon, workdir, raw, message):
    d = image(workdir, manifest=None, raw=raw)
    r = daemon.run("deploy", d)
    assert r.returncode == 2
    assert message in r.err
    assert daemon.requests == []


@pytest.mark.parametrize("drop, flag", [
    ("FunctionName", "--name"), ("Runtime", "--runtime"), ("Handler", "--handler")])
def test_deploy_without_name_runtime_or_handler_is_a_usage_error(daemon, workdir, drop, flag):
    d = image(workdir, manifest={k: v for k, v in MANIFEST.items() if k != drop})
    r = daemon.run("deploy", d)
    assert r.returncode == 2
    assert flag in r.err
    assert daemon.requests == []


def test_deploy_of_a_missing_path_or_a_file_is_a_usage_error(daemon, workdir):
    r = daemon.run("deploy", os.path.join(workdir, "nowhere"))
    assert r.returncode == 2 and "nowhere" in r.err
    f = os.path.join(image(workdir), "app.py")
    r = daemon.run("deploy", f)
    assert r.returncode == 2 and "not a directory" in r.err
    assert daemon.requests == []


def test_deploy_bad_flag_value_is_a_usage_error(daemon, workdir):
    d = image(workdir)
    for args in (["--memory", "abc"], ["--timeout", "1.5"], ["--env", "NOEQUALS"], ["--nope"]):
        r = daemon.run("deploy", d, *args)
        assert r.returncode == 2, args
    assert daemon.requests == []


def test_deploy_stops_when_the_service_refuses(daemon, workdir):
    d = image(workdir)
    daemon.answer(err("ServiceException", "database is locked"))
    r = daemon.run("deploy", d)
    assert r.returncode == 3
    assert r.err == "lamina: ServiceException: database is locked\n"
    assert daemon.actions() == ["GetFunction"]


def test_deploy_reports_an_invalid_configuration(daemon, workdir):
    d = image(workdir)
    daemon.answer(NOT_FOUND, err("InvalidParameterValueException",
                                 "MemorySize must be between 128 and 10240"))
    r = daemon.run("deploy", d, "--memory", "64")
    assert r.returncode == 3
    assert "InvalidParameterValueException: MemorySize must be" in r.err
    assert r.out == ""
