# SPDX-License-Identifier: MIT
"""The function registry over the socket API: functions, versions, aliases, names and ARNs,
and Lambda's error types for what it refuses."""
import base64
REGION, ACCOUNT = "local", "000000000000"


def arn(name, qualifier=None):
    a = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{a}:{qualifier}" if qualifier else a


def returns(value):
    """A python handler that returns value (a repr-able constant)."""
    return {"app.py": f"def handler(event, context):\n    return {value!r}\n"}


def test_create_get_list_update_publish_alias_delete(daemon, fns, client):
    c = client
    name = fns.name("reg")
    code1 = fns.code(returns("v1"))

    # create
    r = c.ok("CreateFunction", FunctionName=name, Runtime="python3.11", Handler="app.handler",
             MemorySize=128, Timeout=2, Description="first", Environment={"Variables": {"KEY": "one"}},
             Code={"Directory": str(code1)})
    assert r["FunctionName"] == name and r["Version"] == "$LATEST", r
    assert r["FunctionArn"] == arn(name), r
    assert r["Runtime"] == "python3.11" and r["Handler"] == "app.handler", r
    assert r["MemorySize"] == 128 and r["Timeout"] == 2, r
    sha1 = r["CodeSha256"]
    assert len(base64.b64decode(sha1, validate=True)) == 32, f"CodeSha256 is not a base64 SHA-256: {r}"
    c.err("CreateFunction", "ResourceConflictException", FunctionName=name, Runtime="python3.11",
          Handler="app.handler", Code={"Directory": str(code1)})

    # get, get configuration, list
    g = c.ok("GetFunction", FunctionName=name)
    cfg = g["Configuration"]
    assert cfg["FunctionName"] == name and cfg["Version"] == "$LATEST", g
    assert cfg["Description"] == "first" and cfg["Environment"]["Variables"] == {"KEY": "one"}, g
    assert cfg["CodeSha256"] == sha1 and "Code" in g, g
    assert c.ok("GetFunctionConfiguration", FunctionName=name)["MemorySize"] == 128
    listed = c.ok("ListFunctions")["Functions"]
    assert name in [f["FunctionName"] for f in listed]
    assert c.invoke(name)["Payload"] == "v1"

    # update code and configuration
    code2 = fns.code(returns("v2"))
    r = c.ok("UpdateFunctionCode", FunctionName=name, Code={"Directory": str(code2)})
    sha2 = r["CodeSha256"]
    assert sha2 != sha1, "new code, same CodeSha256"
    r = c.ok("UpdateFunctionConfiguration", FunctionName=name, MemorySize=192, Description="second")
    assert r["MemorySize"] == 192 and r["Description"] == "second", r
    cfg = c.ok("GetFunctionConfiguration", FunctionName=name)
    assert (cfg["MemorySize"], cfg["Description"], cfg["CodeSha256"]) == (192, "second", sha2), cfg
    assert cfg["Handler"] == "app.handler" and cfg["Timeout"] == 2, "unchanged fields changed: " + str(cfg)
    assert c.invoke(name)["Payload"] == "v2"

    # publish: 1; again without a change: still 1; after a change: 2; 1 is unchanged
    p = c.ok("PublishVersion", FunctionName=name)
    assert p["Version"] == "1" and p["FunctionArn"] == arn(name, "1"), p
    assert c.ok("PublishVersion", FunctionName=name)["Version"] == "1"
    assert c.ok("PublishVersion", FunctionName=name)["Version"] == "1"
    code3 = fns.code(returns("v3"))
    c.ok("UpdateFunctionCode", FunctionName=name, Code={"Directory": str(code3)})
    c.ok("UpdateFunctionConfiguration", FunctionName=name, MemorySize=256)
    p2 = c.ok("PublishVersion", FunctionName=name)
    assert p2["Version"] == "2", p2
    c.ok("UpdateFunctionConfiguration", FunctionName=name, Timeout=3)
    assert c.ok("PublishVersion", FunctionName=name)["Version"] == "3", "a configuration change is a change"
    v1 = c.ok("GetFunction", FunctionName=name, Qualifier="1")["Configuration"]
    assert (v1["Version"], v1["CodeSha256"], v1["MemorySize"], v1["Description"]) == ("1", sha2, 192, "second"), v1
    v2 = c.ok("GetFunction", FunctionName=name, Qualifier="2")["Configuration"]
    assert (v2["MemorySize"], v2["Timeout"]) == (256, 2), v2
    versions = [v["Version"] for v in c.ok("ListVersionsByFunction", FunctionName=name)["Versions"]]
    assert sorted(versions) == sorted(["$LATEST", "1", "2", "3"]), versions
    assert c.invoke(name, Qualifier="1")["Payload"] == "v2"
    assert c.invoke(f"{name}:2")["Payload"] == "v3"
    assert c.invoke(name)["ExecutedVersion"] == "$LATEST"

    # aliases
    a = c.ok("CreateAlias", FunctionName=name, Name="live", FunctionVersion="1", Description="prod")
    assert a["Name"] == "live" and a["FunctionVersion"] == "1", a
    assert a["AliasArn"] == arn(name, "live"), a
    c.err("CreateAlias", "ResourceConflictException", FunctionName=name, Name="live", FunctionVersion="2")
    c.ok("UpdateAlias", FunctionName=name, Name="live", FunctionVersion="1",
         RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    got = c.ok("GetAlias", FunctionName=name, Name="live")
    assert got["FunctionVersion"] == "1", got
    assert got["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.3}, got
    c.ok("CreateAlias", FunctionName=name, Name="beta", FunctionVersion="$LATEST")
    aliases = {x["Name"]: x["FunctionVersion"] for x in c.ok("ListAliases", FunctionName=name)["Aliases"]}
    assert aliases == {"live": "1", "beta": "$LATEST"}, aliases
    # weights on $LATEST are refused, whichever side it is on
    c.err("CreateAlias", "InvalidParameterValueException", FunctionName=name, Name="mixed",
          FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    c.err("UpdateAlias", "InvalidParameterValueException", FunctionName=name, Name="beta",
          RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    c.err("UpdateAlias", "InvalidParameterValueException", FunctionName=name, Name="live",
          FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}})
    c.err("UpdateAlias", "InvalidParameterValueException", FunctionName=name, Name="live",
          FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
    c.err("CreateAlias", "ResourceNotFoundException", FunctionName=name, Name="ghost", FunctionVersion="42")
    c.err("CreateAlias", "InvalidParameterValueException", FunctionName=name, Name="123", FunctionVersion="1")
    assert c.ok("GetAlias", FunctionName=name, Name="live")["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.3}
    # a version an alias uses (as its version or as its weighted one) cannot be deleted
    c.err("DeleteFunction", "ResourceConflictException", FunctionName=name, Qualifier="1")
    c.err("DeleteFunction", "ResourceConflictException", FunctionName=name, Qualifier="2")
    assert c.ok("GetFunction", FunctionName=name, Qualifier="1")["Configuration"]["Version"] == "1"
    assert c.invoke(name, Qualifier="beta")["ExecutedVersion"] == "$LATEST"

    # every form of name: qualified, unqualified, partial and full ARNs
    c.ok("UpdateAlias", FunctionName=name, Name="live", FunctionVersion="2",
         RoutingConfig={"AdditionalVersionWeights": {}})
    forms = [
        ({"FunctionName": name}, "$LATEST"),
        ({"FunctionName": name, "Qualifier": "1"}, "1"),
        ({"FunctionName": f"{name}:1"}, "1"),
        ({"FunctionName": f"{name}:live"}, "2"),
        ({"FunctionName": name, "Qualifier": "live"}, "2"),
        ({"FunctionName": f"{name}:$LATEST"}, "$LATEST"),
        ({"FunctionName": arn(name)}, "$LATEST"),
        ({"FunctionName": arn(name, "1")}, "1"),
        ({"FunctionName": arn(name, "live")}, "2"),
        ({"FunctionName": arn(name), "Qualifier": "live"}, "2"),
        ({"FunctionName": f"{ACCOUNT}:function:{name}"}, "$LATEST"),
        ({"FunctionName": f"{ACCOUNT}:function:{name}:1"}, "1"),
        ({"FunctionName": f"{ACCOUNT}:function:{name}:live"}, "2"),
    ]
    for params, version in forms:
        r = c.ok("Invoke", **params)
        assert r["ExecutedVersion"] == version, (params, r)
        assert r["Payload"] == {"$LATEST": "v3", "1": "v2", "2": "v3"}[version], (params, r)
        g = c.ok("GetFunction", **params)["Configuration"]
        assert g["FunctionName"] == name, (params, g)
        assert g["Version"] == version, (params, g)
    # a qualifier in the name and a different one beside it
    c.err("Invoke", "InvalidParameterValueException", FunctionName=f"{name}:1", Qualifier="2")
    c.err("GetFunction", "InvalidParameterValueException", FunctionName=arn(name, "1"), Qualifier="live")

    # delete: an alias, a version, the function
    c.ok("DeleteAlias", FunctionName=name, Name="beta")
    c.err("GetAlias", "ResourceNotFoundException", FunctionName=name, Name="beta")
    c.ok("DeleteFunction", FunctionName=name, Qualifier="3")
    c.err("GetFunction", "ResourceNotFoundException", FunctionName=name, Qualifier="3")
    c.err("Invoke", "ResourceNotFoundException", FunctionName=name, Qualifier="3")
    assert c.ok("GetFunction", FunctionName=name, Qualifier="1")["Configuration"]["Version"] == "1"
    c.ok("DeleteFunction", FunctionName=arn(name))
    c.err("GetFunction", "ResourceNotFoundException", FunctionName=name)
    c.err("GetFunction", "ResourceNotFoundException", FunctionName=name, Qualifier="1")
    c.err("GetAlias", "ResourceNotFoundException", FunctionName=name, Name="live")
    c.err("Invoke", "ResourceNotFoundException", FunctionName=name)
    assert name not in [f["FunctionName"] for f in c.ok("ListFunctions")["Functions"]]
    # the name is free again, and a new function of that name runs its own code
    c.ok("CreateFunction", FunctionName=name, Runtime="python3.11", Handler="app.handler",
         Code={"Directory": str(fns.code(returns("reborn")))})
    assert c.invoke(name)["Payload"] == "reborn"
    assert [v["Version"] for v in c.ok("ListVersionsByFunction", FunctionName=name)["Versions"]] == ["$LATEST"]
    assert c.ok("ListAliases", FunctionName=name)["Aliases"] == []
    c.ok("DeleteFunction", FunctionName=name)


def test_publish_from_create_and_update(fns, client):
    """Publish: true on CreateFunction and UpdateFunctionCode publishes a version."""
    c = client
    name = fns.name("pub")
    r = c.ok("CreateFunction", FunctionName=name, Runtime="python3.11", Handler="app.handler",
             Code={"Directory": str(fns.code(returns("a")))}, Publish=True)
    assert r["Version"] == "1", r
    r = c.ok("UpdateFunctionCode", FunctionName=name, Code={"Directory": str(fns.code(returns("b")))},
             Publish=True)
    assert r["Version"] == "2", r
    assert c.invoke(name, Qualifier="1")["Payload"] == "a"
    assert c.invoke(name, Qualifier="2")["Payload"] == "b"
    c.ok("DeleteFunction", FunctionName=name)


def test_lambda_error_types(fns, client):
    c = client
    name = fns.name("errs")
    code = fns.code(returns("x"))
    base = dict(Runtime="python3.11", Handler="app.handler", Code={"Directory": str(code)})
    c.ok("CreateFunction", FunctionName=name, **base)
    missing = fns.name("missing")

    # unknown function, qualifier, alias
    for action, extra in [("GetFunction", {}), ("GetFunctionConfiguration", {}), ("Invoke", {}),
                          ("DeleteFunction", {}), ("PublishVersion", {}),
                          ("ListVersionsByFunction", {}), ("ListAliases", {}),
                          ("UpdateFunctionConfiguration", {"MemorySize": 256}),
                          ("UpdateFunctionCode", {"Code": {"Directory": str(code)}}),
                          ("GetAlias", {"Name": "live"}),
                          ("PutFunctionConcurrency", {"ReservedConcurrentExecutions": 1}),
                          ("GetLogs", {})]:
        c.err(action, "ResourceNotFoundException", FunctionName=missing, **extra)
    c.err("GetFunction", "ResourceNotFoundException", FunctionName=name, Qualifier="7")
    c.err("Invoke", "ResourceNotFoundException", FunctionName=f"{name}:7")
    c.err("GetFunction", "ResourceNotFoundException", FunctionName=name, Qualifier="nosuchalias")
    c.err("Invoke", "ResourceNotFoundException", FunctionName=name, Qualifier="nosuchalias")
    c.err("GetAlias", "ResourceNotFoundException", FunctionName=name, Name="nosuchalias")
    c.err("DeleteAlias", "ResourceNotFoundException", FunctionName=name, Name="nosuchalias")
    c.err("UpdateAlias", "ResourceNotFoundException", FunctionName=name, Name="nosuchalias",
          FunctionVersion="$LATEST")
    c.err("Invoke", "ResourceNotFoundException", FunctionName=arn(missing))

    # bad names and qualifiers
    for bad in ["bad name", "bad/name", "x" * 65, "", "name:with:too:many:parts",
                "arn:aws:lambda:local:000000000000:nofunction:x"]:
        c.err("CreateFunction", "InvalidParameterValueException", FunctionName=bad, **base)
        c.err("GetFunction", "InvalidParameterValueException", FunctionName=bad)
    c.err("GetFunction", "InvalidParameterValueException", FunctionName=name, Qualifier="bad qualifier")
    c.err("CreateFunction", "InvalidParameterValueException", FunctionName=f"{fns.name()}:1", **base)
    c.err("CreateAlias", "InvalidParameterValueException", FunctionName=name, Name="bad alias!",
          FunctionVersion="$LATEST")

    # bad memory and timeout, unknown runtime, missing or bad Code, missing fields
    fresh = fns.name("fresh")
    for field, value in [("MemorySize", 64), ("MemorySize", 127), ("MemorySize", 10241), ("MemorySize", -1),
                         ("Timeout", 0), ("Timeout", 901), ("Timeout", -5),
                         ("EphemeralStorage", {"Size": 100}), ("EphemeralStorage", {"Size": 20000})]:
        c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh, **base, **{field: value})
        if field != "EphemeralStorage":
            c.err("UpdateFunctionConfiguration", "InvalidParameterValueException", FunctionName=name,
                  **{field: value})
    c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh,
          **{**base, "Runtime": "cobol85"})
    c.err("UpdateFunctionConfiguration", "InvalidParameterValueException", FunctionName=name, Runtime="cobol85")
    c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh, Runtime="python3.11",
          Handler="app.handler")
    c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh, Runtime="python3.11",
          Handler="app.handler", Code={})
    c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh, Runtime="python3.11",
          Handler="app.handler", Code={"Directory": "/nonexistent/lamina/code"})
    c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh, Runtime="python3.11",
          Handler="app.handler", Code={"Directory": "relative/dir"})
    c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh, Handler="app.handler",
          Code={"Directory": str(code)})
    c.err("UpdateFunctionCode", "InvalidParameterValueException", FunctionName=name)
    # Lambda's reserved variables cannot be set by the function
    for reserved in ("AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "_HANDLER", "AWS_LAMBDA_RUNTIME_API"):
        c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh, **base,
              Environment={"Variables": {reserved: "mine"}})
    c.err("CreateFunction", "InvalidParameterValueException", FunctionName=fresh, **base,
          Environment={"Variables": {"NUM": 1}})
    # none of the refused creates made a function, none of the refused updates changed one
    c.err("GetFunction", "ResourceNotFoundException", FunctionName=fresh)
    cfg = c.ok("GetFunctionConfiguration", FunctionName=name)
    assert (cfg["MemorySize"], cfg["Timeout"], cfg["Runtime"]) == (128, 3, "python3.11"), cfg
    # deleting $LATEST alone is not a thing
    c.err("DeleteFunction", "InvalidParameterValueException", FunctionName=name, Qualifier="$LATEST")
    c.ok("DeleteFunction", FunctionName=name)


def test_concurrency_settings(fns, client):
    c = client
    name = fns.python("def handler(e, c):\n    return 1\n")
    assert "ReservedConcurrentExecutions" not in c.ok("GetFunctionConcurrency", FunctionName=name)
    r = c.ok("PutFunctionConcurrency", FunctionName=name, ReservedConcurrentExecutions=3)
    assert r["ReservedConcurrentExecutions"] == 3, r
    assert c.ok("GetFunctionConcurrency", FunctionName=name)["ReservedConcurrentExecutions"] == 3
    assert c.ok("GetFunction", FunctionName=name)["Concurrency"]["ReservedConcurrentExecutions"] == 3
    c.err("PutFunctionConcurrency", "InvalidParameterValueException", FunctionName=name,
          ReservedConcurrentExecutions=-1)
    c.err("PutFunctionConcurrency", "InvalidParameterValueException", FunctionName=name,
          ReservedConcurrentExecutions=100000)
    c.ok("DeleteFunctionConcurrency", FunctionName=name)
    assert "ReservedConcurrentExecutions" not in c.ok("GetFunctionConcurrency", FunctionName=name)
    c.ok("DeleteFunction", FunctionName=name)


def test_limits_accepted_at_their_bounds(fns, client):
    c = client
    code = str(fns.code(returns("x")))
    for memory, timeout, tmp in [(128, 1, 512), (10240, 900, 10240)]:
        name = fns.name("bounds")
        r = c.ok("CreateFunction", FunctionName=name, Runtime="python3.11", Handler="app.handler",
                 MemorySize=memory, Timeout=timeout, EphemeralStorage={"Size": tmp}, Code={"Directory": code})
        assert (r["MemorySize"], r["Timeout"], r["EphemeralStorage"]["Size"]) == (memory, timeout, tmp), r
        c.ok("DeleteFunction", FunctionName=name)


def test_racing_creates_and_publishes(daemon, fns):
    """Ten connections create the same name at once: one wins, nine hear
    ResourceConflictException. Then ten publish at once after one change: one version."""
    from laminad_harness import run_threads
    name = fns.name("race")
    codes = [str(fns.code(returns(f"racer-{i}"))) for i in range(10)]

    def create(i):
        with daemon.client() as c:
            return c.call("CreateFunction", FunctionName=name, Runtime="python3.11", Handler="app.handler",
                          Code={"Directory": codes[i]})
    results = run_threads(10, create)
    wins = [i for i, r in enumerate(results) if r["ok"]]
    losses = [r["error"]["type"] for r in results if not r["ok"]]
    assert len(wins) == 1 and losses == ["ResourceConflictException"] * 9, results
    with daemon.client() as c:
        assert c.invoke(name)["Payload"] == f"racer-{wins[0]}"

    def publish(i):
        with daemon.client() as c:
            return c.call("PublishVersion", FunctionName=name)
    results = run_threads(10, publish)
    assert all(r["ok"] for r in results), results
    assert {r["Version"] for r in results} == {"1"}, [r["Version"] for r in results]
    with daemon.client() as c:
        versions = [v["Version"] for v in c.ok("ListVersionsByFunction", FunctionName=name)["Versions"]]
        assert sorted(versions) == ["$LATEST", "1"], versions
        c.ok("DeleteFunction", FunctionName=name)
