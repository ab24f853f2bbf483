# SPDX-License-Identifier: MIT
"""lamina alias create|update|get|list|delete, and --weight parsing."""
import json

import pytest

from fakedaemon import err, ok

ARN = "arn:aws:lambda:local:000000000000:function:hello:live"


def alias(version="1", weights=None, description=""):
    a = {"AliasArn": ARN, "Name": "live", "FunctionVersion": version,
         "Description": description, "RevisionId": "00000000-0000-4000-8000-000000000002"}
    if weights:
        a["RoutingConfig"] = {"AdditionalVersionWeights": weights}
    return ok(**a)


def test_alias_create_with_a_weight_sends_routing_config(daemon):
    daemon.answer(alias("1", {"2": 0.1}))
    r = daemon.run("alias", "create", "hello", "live", "--version", "1", "--weight", "2=0.1",
                   "--description", "canary")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{
        "action": "CreateAlias", "FunctionName": "hello", "Name": "live",
        "FunctionVersion": "1", "Description": "canary",
        "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}}}]
    assert r.out == "created alias hello:live -> version 1 (version 2 at 10%)\n"


def test_alias_create_without_weight_sends_no_routing_config(daemon):
    daemon.answer(alias("3"))
    r = daemon.run("alias", "create", "hello", "live", "--version", "3")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "CreateAlias", "FunctionName": "hello",
                               "Name": "live", "FunctionVersion": "3"}]
    assert r.out == "created alias hello:live -> version 3\n"


@pytest.mark.parametrize("weight", ["2", "2=", "=0.1", "x=0.1", "02=0.1", "0=0.5", "-1=0.1",
                                    "2=abc", "2=1.5", "2=-0.1", "2=0.1x", "2=nan", "2=inf",
                                    "2= 0.1", "1.5=0.1"])
def test_alias_bad_weight_is_a_usage_error_and_sends_nothing(daemon, weight):
    r = daemon.run("alias", "create", "hello", "live", "--version", "1", "--weight", weight)
    assert r.returncode == 2, weight
    assert "--weight" in r.err
    assert daemon.requests == []


@pytest.mark.parametrize("weight, value", [("2=0", 0.0), ("2=1", 1.0), ("10=.25", 0.25),
                                           ("2=0.05", 0.05), ("2=1e-1", 0.1)])
def test_alias_weight_accepts_numbers_from_0_to_1(daemon, weight, value):
    daemon.answer(alias("1"))
    r = daemon.run("alias", "update", "hello", "live", "--weight", weight)
    assert r.returncode == 0, r.err
    version = weight.split("=")[0]
    assert daemon.calls()[0]["RoutingConfig"] == {"AdditionalVersionWeights": {version: value}}


def test_alias_accepts_one_weight_only(daemon):
    r = daemon.run("alias", "create", "hello", "live", "--version", "1",
                   "--weight", "2=0.1", "--weight", "3=0.1")
    assert r.returncode == 2
    assert "only one --weight" in r.err
    assert daemon.requests == []


def test_alias_create_needs_a_version(daemon):
    r = daemon.run("alias", "create", "hello", "live")
    assert r.returncode == 2
    assert "--version" in r.err
    assert daemon.requests == []


def test_alias_update_sends_only_what_is_given(daemon):
    daemon.answer(alias("2"), alias("2"))
    r = daemon.run("alias", "update", "hello", "live", "--version", "2")
    assert r.returncode == 0, r.err
    assert r.out == "updated alias hello:live -> version 2\n"
    r = daemon.run("alias", "update", "hello", "live", "--no-weight")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [
        {"action": "UpdateAlias", "FunctionName": "hello", "Name": "live",
         "FunctionVersion": "2"},
        {"action": "UpdateAlias", "FunctionName": "hello", "Name": "live",
         "RoutingConfig": {"AdditionalVersionWeights": {}}},
    ]


def test_alias_list_prints_a_table(daemon):
    daemon.answer(ok(Aliases=[
        {"AliasArn": ARN, "Name": "live", "FunctionVersion": "1", "Description": "",
         "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.25}}},
        {"AliasArn": ARN[:-4] + "staging", "Name": "staging", "FunctionVersion": "2",
         "Description": "next"},
    ]))
    r = daemon.run("alias", "list", "hello")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "ListAliases", "FunctionName": "hello"}]
    assert r.out.splitlines() == [
        "NAME     VERSION  ADDITIONAL VERSION WEIGHTS  DESCRIPTION",
        "live     1        2=0.25                      -",
        "staging  2        -                           next",
    ]


def test_alias_get_and_delete(daemon):
    daemon.answer(alias("1", {"2": 0.1}), ok())
    r = daemon.run("alias", "get", "hello", "live")
    assert r.returncode == 0, r.err
    assert "FunctionVersion: 1" in r.out.splitlines()
    assert "    2: 0.1" in r.out.splitlines()
    r = daemon.run("alias", "delete", "hello", "live")
    assert r.returncode == 0, r.err
    assert r.out == "deleted alias hello:live\n"
    assert daemon.calls() == [
        {"action": "GetAlias", "FunctionName": "hello", "Name": "live"},
        {"action": "DeleteAlias", "FunctionName": "hello", "Name": "live"},
    ]


def test_alias_json_output(daemon):
    daemon.answer(alias("1", {"2": 0.1}))
    r = daemon.run("--json", "alias", "create", "hello", "live", "--version", "1",
                   "--weight", "2=0.1")
    assert r.returncode == 0, r.err
    doc = json.loads(r.out)
    assert doc["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert "ok" not in doc and "id" not in doc


def test_alias_refused_exits_3(daemon):
    daemon.answer(err("ResourceConflictException", "Alias already exists: live"))
    r = daemon.run("alias", "create", "hello", "live", "--version", "1")
    assert r.returncode == 3
    assert r.err == "lamina: ResourceConflictException: Alias already exists: live\n"


@pytest.mark.parametrize("args", [
    ["alias"], ["alias", "rename", "hello", "live"], ["alias", "list"],
    ["alias", "delete", "hello"], ["alias", "list", "hello", "--version", "1"],
    ["alias", "get", "hello", "live", "--weight", "2=0.1"],
])
def test_alias_usage_errors(daemon, args):
    r = daemon.run(*args)
    assert r.returncode == 2, args
    assert daemon.requests == []
