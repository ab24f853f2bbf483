# SPDX-License-Identifier: MIT
"""lamina list, get, versions, delete, publish: requests, tables and key: value output."""
import json

from fakedaemon import configuration, err, ok


def test_list_prints_an_aligned_table(daemon):
    daemon.answer(ok(Functions=[
        configuration("hello"),
        configuration("image-resizer", Runtime="nodejs20.x", Handler="index.handler",
                      MemorySize=1024, Timeout=30),
    ]))
    r = daemon.run("list")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "ListFunctions"}]
    lines = r.out.splitlines()
    assert lines == [
        "NAME           RUNTIME     HANDLER        MEMORY   TIMEOUT  LAST MODIFIED",
        "hello          python3.11  app.handler    128 MB   3 s      2024-05-01T12:00:00.000+0000",
        "image-resizer  nodejs20.x  index.handler  1024 MB  30 s     2024-05-01T12:00:00.000+0000",
    ]


def test_list_with_no_functions_prints_the_header(daemon):
    daemon.answer(ok(Functions=[]))
    r = daemon.run("list")
    assert r.returncode == 0
    assert r.out.splitlines() == ["NAME  RUNTIME  HANDLER  MEMORY  TIMEOUT  LAST MODIFIED"]


def test_list_json_prints_the_api_result(daemon):
    result = {"Functions": [configuration("hello")]}
    daemon.answer(ok(**result))
    r = daemon.run("list", "--json")
    assert r.returncode == 0, r.err
    assert json.loads(r.out) == result
    assert r.out.count("\n") == 1


def test_get_passes_the_qualified_name_as_typed_and_prints_fields(daemon):
    conf = configuration(Version="3", Environment={"Variables": {"STAGE": "prod"}})
    daemon.answer(ok(Configuration=conf, Concurrency={"ReservedConcurrentExecutions": 5}))
    r = daemon.run("get", "hello:live")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "GetFunction", "FunctionName": "hello:live"}]
    lines = r.out.splitlines()
    assert "FunctionName:                 hello" in lines
    assert "Version:                      3" in lines
    assert "MemorySize:                   128" in lines
    assert "ReservedConcurrentExecutions: 5" in lines
    # Nested objects go under their key, indented.
    i = lines.index("Environment:")
    assert lines[i + 1:i + 3] == ["  Variables:", "    STAGE: prod"]
    assert "EphemeralStorage:" in lines and "  Size: 512" in lines


def test_get_accepts_an_arn(daemon):
    arn = "arn:aws:lambda:local:000000000000:function:hello:7"
    daemon.answer(ok(Configuration=configuration(Version="7")))
    r = daemon.run("get", arn)
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "GetFunction", "FunctionName": arn}]


def test_get_of_a_missing_function_exits_3(daemon):
    daemon.answer(err("ResourceNotFoundException",
                      "Function not found: arn:aws:lambda:local:000000000000:function:nope"))
    r = daemon.run("get", "nope")
    assert r.returncode == 3
    assert r.err == ("lamina: ResourceNotFoundException: Function not found: "
                     "arn:aws:lambda:local:000000000000:function:nope\n")


def test_get_json_is_the_result_without_envelope(daemon):
    result = {"Configuration": configuration(), "Concurrency": {"ReservedConcurrentExecutions": 2}}
    daemon.answer(ok(**result))
    r = daemon.run("--json", "get", "hello")
    assert json.loads(r.out) == result


def test_versions_prints_a_table(daemon):
    daemon.answer(ok(Versions=[
        configuration(),
        configuration(Version="1", Description="first", CodeSha256="AAAA"),
        configuration(Version="2", Description="déjà vu", CodeSha256="BBBB", MemorySize=256),
    ]))
    r = daemon.run("versions", "hello")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "ListVersionsByFunction", "FunctionName": "hello"}]
    lines = r.out.splitlines()
    assert lines[0].split("  ")[0] == "VERSION"
    assert [l.split()[0] for l in lines[1:]] == ["$LATEST", "1", "2"]
    assert lines[3].endswith("256 MB  3 s      déjà vu")
    # Columns line up, counting characters rather than bytes.
    col = lines[0].index("DESCRIPTION")
    assert lines[2][col:] == "first"


def test_delete_sends_the_name_as_typed(daemon):
    daemon.answer(ok(), ok())
    r = daemon.run("delete", "hello:3")
    assert r.returncode == 0, r.err
    assert r.out == "deleted hello:3\n"
    r = daemon.run("delete", "hello", "--json")
    assert r.out == "{}\n"
    assert daemon.calls() == [{"action": "DeleteFunction", "FunctionName": "hello:3"},
                              {"action": "DeleteFunction", "FunctionName": "hello"}]


def test_publish_sends_the_description_and_prints_the_version(daemon):
    daemon.answer(ok(**configuration(Version="4", Description="release 4")))
    r = daemon.run("publish", "hello", "--description", "release 4")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "PublishVersion", "FunctionName": "hello",
                               "Description": "release 4"}]
    assert r.out == "published hello version 4\n"


def test_publish_without_description_sends_none(daemon):
    daemon.answer(ok(**configuration(Version="1")))
    r = daemon.run("publish", "hello")
    assert r.returncode == 0
    assert daemon.calls() == [{"action": "PublishVersion", "FunctionName": "hello"}]


def test_missing_or_extra_arguments_are_usage_errors(daemon):
    for args in (["get"], ["versions"], ["delete"], ["publish"], ["list", "extra"],
                 ["get", "a", "b"], ["get", ""]):
        r = daemon.run(*args)
        assert r.returncode == 2, args
        assert "usage: lamina" in r.err
    assert daemon.requests == []
