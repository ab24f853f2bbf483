# SPDX-License-Identifier: MIT
"""lamina config: UpdateFunctionConfiguration, PutFunctionConcurrency, --env parsing."""
import json

import pytest

from fakedaemon import Defer, configuration, err, ok


def test_config_sends_memory_timeout_and_the_whole_environment(daemon):
    daemon.answer(ok(**configuration(MemorySize=256, Timeout=15,
                                     Environment={"Variables": {"A": "1", "B": ""}})))
    r = daemon.run("config", "hello", "--memory", "256", "--timeout", "15",
                   "--env", "A=0", "--env", "B=", "--env", "A=1")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{
        "action": "UpdateFunctionConfiguration", "FunctionName": "hello", "MemorySize": 256,
        "Timeout": 15, "Environment": {"Variables": {"A": "1", "B": ""}}}]
    assert r.out == "updated hello $LATEST (256 MB, 15 s, 2 environment variables)\n"


def test_config_env_value_may_hold_equals_signs(daemon):
    daemon.answer(ok(**configuration()))
    r = daemon.run("config", "hello", "--env", "DSN=postgres://u:p@h/db?sslmode=require")
    assert r.returncode == 0, r.err
    assert daemon.calls()[0]["Environment"] == {
        "Variables": {"DSN": "postgres://u:p@h/db?sslmode=require"}}


@pytest.mark.parametrize("env", ["NOEQUALS", "=value", "1ABC=x", "A-B=c", "A B=c", ""])
def test_config_bad_env_is_a_usage_error(daemon, env):
    r = daemon.run("config", "hello", "--env", env)
    assert r.returncode == 2, env
    assert "--env" in r.err
    assert daemon.requests == []


@pytest.mark.parametrize("args", [["--memory", "abc"], ["--memory", "12x"], ["--memory", ""],
                                  ["--memory", "0"], ["--timeout", "-3"],
                                  ["--concurrency", "-1"], ["--concurrency", "lots"],
                                  ["--memory"], [], ["--bogus", "1"]])
def test_config_bad_values_are_usage_errors(daemon, args):
    r = daemon.run("config", "hello", *args)
    assert r.returncode == 2, args
    assert daemon.requests == []


def test_config_concurrency_puts_function_concurrency(daemon):
    daemon.answer(ok(ReservedConcurrentExecutions=0))
    r = daemon.run("config", "hello", "--concurrency", "0")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "PutFunctionConcurrency", "FunctionName": "hello",
                               "ReservedConcurrentExecutions": 0}]
    assert r.out == "reserved concurrency of hello: 0\n"


def test_config_matches_out_of_order_responses_by_id(daemon):
    # The configuration's answer is held back until the concurrency's has gone out.
    daemon.answer(Defer(ok(**configuration(MemorySize=512))),
                  ok(ReservedConcurrentExecutions=7))
    r = daemon.run("config", "hello", "--memory", "512", "--concurrency", "7")
    assert r.returncode == 0, r.err
    assert daemon.actions() == ["UpdateFunctionConfiguration", "PutFunctionConcurrency"]
    ids = [q["id"] for q in daemon.requests]
    assert len(set(ids)) == 2
    assert r.out.splitlines() == ["updated hello $LATEST (512 MB, 3 s, 0 environment variables)",
                                  "reserved concurrency of hello: 7"]


def test_config_json_with_both_changes(daemon):
    conf = configuration(Timeout=9)
    daemon.answer(Defer(ok(**conf)), ok(ReservedConcurrentExecutions=3))
    r = daemon.run("--json", "config", "hello", "--timeout", "9", "--concurrency", "3")
    assert r.returncode == 0, r.err
    assert json.loads(r.out) == {"Configuration": conf,
                                 "Concurrency": {"ReservedConcurrentExecutions": 3}}


def test_config_reports_a_refusal(daemon):
    daemon.answer(err("InvalidParameterValueException", "Timeout must be at most 900"),
                  ok(ReservedConcurrentExecutions=1))
    r = daemon.run("config", "hello", "--timeout", "901", "--concurrency", "1")
    assert r.returncode == 3
    assert r.err == "lamina: InvalidParameterValueException: Timeout must be at most 900\n"
    # The part that did change is not hidden by the part that did not.
    assert r.out == "reserved concurrency of hello: 1\n"


def test_config_help_says_env_replaces_all_variables(daemon):
    r = daemon.run("config", "--help")
    assert r.returncode == 0
    assert "REPLACE all" in r.out
