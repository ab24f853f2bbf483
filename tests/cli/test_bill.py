# SPDX-License-Identifier: MIT
"""lamina bill: the GetBill request (--function, --since in every accepted form), the
table with its total, free tier and cost to pay, --json, and the errors."""
import json
import time

import pytest

from fakedaemon import err, ok, run_lamina

PRICES = {"PricePerRequest": 2e-7, "PricePerGbSecond": 1.66667e-5, "FreeRequests": 1000000,
          "FreeGbSeconds": 400000, "BillingGranularityMs": 1}


def bill(functions, prices=PRICES, since=None):
    """A GetBill result as laminad computes it: functions are (name, requests, MB-ms,
    billed ms); per-function costs before the free tier, Total.Cost after it."""
    rows = []
    for name, requests, mb_ms, billed_ms in functions:
        gb_s = mb_ms / 1024 / 1000
        rq, comp = requests * prices["PricePerRequest"], gb_s * prices["PricePerGbSecond"]
        rows.append({"FunctionName": name, "Requests": requests, "GbSeconds": gb_s,
                     "DurationMs": billed_ms * 0.9, "BilledDurationMs": billed_ms,
                     "CpuTimeMs": billed_ms * 0.5, "RequestCost": rq, "ComputeCost": comp,
                     "Cost": rq + comp})
    requests = sum(r["Requests"] for r in rows)
    gb_s = sum(r["GbSeconds"] for r in rows)
    free_req = min(requests, prices["FreeRequests"])
    free_gb_s = min(gb_s, prices["FreeGbSeconds"])
    rq = (requests - free_req) * prices["PricePerRequest"]
    comp = (gb_s - free_gb_s) * prices["PricePerGbSecond"]
    return {"Since": since, "Prices": prices, "Functions": rows,
            "Total": {"Requests": requests, "GbSeconds": gb_s,
                      "BilledDurationMs": sum(r["BilledDurationMs"] for r in rows),
                      "RequestCost": rq, "ComputeCost": comp, "FreeRequestsApplied": free_req,
                      "FreeGbSecondsApplied": free_gb_s, "Cost": rq + comp}}


def test_bill_within_the_free_tier_prints_each_function_the_total_and_nothing_to_pay(daemon):
    daemon.answer(ok(**bill([("hello", 1200, 128 * 2400, 2400),
                             ("image-resizer", 3, 1024 * 24, 24)])))
    r = daemon.run("bill")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "GetBill"}]
    assert r.out.splitlines() == [
        "All invocations in the ledger",
        "FUNCTION       REQUESTS  GB-SECONDS  BILLED MS  COST",
        "hello          1200      0.3         2400       $0.000245",
        "image-resizer  3         0.024       24         $0.00000100",
        "TOTAL          1203      0.324       2424       $0.000246",
        "FREE TIER      -1203     -0.324                 -$0.000246",
        "TO PAY                                          $0.00",
        "Prices: $0.20 per million requests, $0.0000166667 per GB-second, billed per 1 ms; "
        "free tier: 1000000 requests and 400000 GB-seconds",
    ]


def test_bill_beyond_the_free_tier_charges_the_rest(daemon):
    # 1.2 M requests and 432,300 GB-s: 200,000 requests and 32,300 GB-s are charged.
    daemon.answer(ok(**bill([("hello", 1200000, 128 * 2400000, 2400000),
                             ("big", 5000, 10240 * 3600000 * 12, 3600000 * 12)],
                            since=1714564800)))
    r = daemon.run("bill")
    assert r.returncode == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "Invocations since 2024-05-01T12:00:00Z"
    assert lines[1:7] == [
        "FUNCTION   REQUESTS  GB-SECONDS  BILLED MS  COST",
        "hello      1200000   300         2400000    $0.25",
        "big        5000      432000      43200000   $7.20",
        "TOTAL      1205000   432300      45600000   $7.45",
        "FREE TIER  -1000000  -400000                -$6.87",
        "TO PAY                                      $0.58",
    ]
    # 0.2 * 0.20 + 32,300 * 0.0000166667 = 0.04 + 0.5383...
    assert abs(0.2 * 0.2 + 32300 * 1.66667e-5 - 0.58) < 0.005


def test_bill_with_no_invocations_prints_zero_totals(daemon):
    daemon.answer(ok(**bill([])))
    r = daemon.run("bill")
    assert r.returncode == 0, r.err
    assert r.out.splitlines()[1:6] == [
        "FUNCTION   REQUESTS  GB-SECONDS  BILLED MS  COST",
        "TOTAL      0         0           0          $0.00",
        "FREE TIER  0         0                      $0.00",
        "TO PAY                                      $0.00",
        "Prices: $0.20 per million requests, $0.0000166667 per GB-second, billed per 1 ms; "
        "free tier: 1000000 requests and 400000 GB-seconds",
    ]


def test_bill_uses_the_prices_the_daemon_reports(daemon):
    prices = dict(PRICES, PricePerRequest=1e-6, FreeRequests=0, FreeGbSeconds=0,
                  BillingGranularityMs=100)
    daemon.answer(ok(**bill([("hello", 10, 128 * 1000, 1000)], prices=prices)))
    r = daemon.run("bill")
    assert r.returncode == 0, r.err
    lines = r.out.splitlines()
    assert lines[-2].split() == ["TO", "PAY", "$0.0000121"]
    assert lines[-1] == ("Prices: $1.00 per million requests, $0.0000166667 per GB-second, "
                         "billed per 100 ms; free tier: 0 requests and 0 GB-seconds")


def test_bill_function_passes_the_name_as_typed(daemon):
    arn = "arn:aws:lambda:local:000000000000:function:hello"
    daemon.answer(ok(**bill([("hello", 1, 128, 1)])))
    r = daemon.run("bill", "--function", arn)
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "GetBill", "FunctionName": arn}]


def test_bill_json_prints_the_api_result(daemon):
    result = bill([("hello", 1200, 128 * 2400, 2400)], since=1714564800.5)
    daemon.answer(ok(**result))
    r = daemon.run("--json", "bill", "--since", "1714564800.5")
    assert r.returncode == 0, r.err
    assert json.loads(r.out) == result
    assert r.out.count("\n") == 1


@pytest.mark.parametrize("value,since", [
    ("2024-05-01", 1714521600),
    ("2024-05-01T12:00", 1714564800),
    ("2024-05-01T12:00:00", 1714564800),
    ("2024-05-01 12:00:00", 1714564800),
    ("2024-05-01T12:00:00Z", 1714564800),
    ("2024-05-01t12:00:00z", 1714564800),
    ("2024-05-01T14:00:00+02:00", 1714564800),
    ("2024-05-01T14:00:00+0200", 1714564800),
    ("2024-05-01T14:00:00+02", 1714564800),
    ("2024-05-01T06:30:00-05:30", 1714564800),
    ("2024-05-01T12:00:00.250Z", 1714564800.25),
    ("2024-02-29", 1709164800),
    ("1714564800", 1714564800),
    ("1714564800.5", 1714564800.5),
    ("0", 0),
])
def test_bill_since_accepts_dates_date_times_and_unix_seconds(daemon, value, since):
    daemon.answer(ok(**bill([], since=since)))
    r = daemon.run("bill", "--since", value)
    assert r.returncode == 0, r.err
    sent = daemon.calls()[0]["Since"]
    assert sent == since
    # Whole seconds go out as a JSON integer.
    assert isinstance(sent, int) == (since == int(since))


@pytest.mark.parametrize("value,age", [
    ("30m", 30 * 60), ("12h", 12 * 3600), ("7d", 7 * 86400), ("90s", 90), ("2w", 14 * 86400),
    ("1.5h", 5400),
])
def test_bill_since_accepts_an_age_before_now(daemon, value, age):
    daemon.answer(ok(**bill([])))
    before = time.time()
    r = daemon.run("bill", "--since", value)
    after = time.time()
    assert r.returncode == 0, r.err
    sent = daemon.calls()[0]["Since"]
    assert before - age - 1 <= sent <= after - age + 1


def test_bill_prints_the_since_it_was_given_back(daemon):
    daemon.answer(ok(**bill([], since=1714564800.25)))
    r = daemon.run("bill", "--since", "1714564800.25")
    assert r.out.splitlines()[0] == "Invocations since 2024-05-01T12:00:00.250Z"


@pytest.mark.parametrize("value", [
    "", "yesterday", "2024-5-1", "2024-13-01", "2024-00-10", "2023-02-29",
    "2024-04-31", "2024-05-01T24:00", "2024-05-01T12:60", "2024-05-01T12:00:61",
    "2024-05-01T12", "2024-05-01T12:00:00+2", "2024-05-01T12:00:00+25:00",
    "2024-05-01T12:00:00+02:", "2024-05-01T12:00:00+02:0",
    "2024-05-01T12:00:00.Z", "2024-05-01Z", "2024-05-01T12:00:00 UTC", "12x", "30M", "m",
    "-5", "-30m", "1e9", "1714564800.", ".5", "1969-12-31",
])
def test_bill_rejects_a_bad_since_naming_it(daemon, value):
    r = daemon.run("bill", "--since", value)
    assert r.returncode == 2
    assert f"--since: invalid value '{value}'" in r.err
    assert r.err.startswith("lamina: bill: ")
    assert daemon.requests == []


def test_bill_rejects_stray_arguments_and_empty_function(daemon):
    r = daemon.run("bill", "hello")
    assert r.returncode == 2 and "unexpected argument 'hello'" in r.err
    r = daemon.run("bill", "--function", "")
    assert r.returncode == 2 and "--function must not be empty" in r.err
    r = daemon.run("bill", "--since")
    assert r.returncode == 2 and "option '--since' needs a value" in r.err
    assert daemon.requests == []


def test_bill_of_an_unknown_function_exits_3(daemon):
    daemon.answer(err("ResourceNotFoundException", "Function not found: nope"))
    r = daemon.run("bill", "--function", "nope")
    assert r.returncode == 3
    assert r.err == "lamina: ResourceNotFoundException: Function not found: nope\n"
    assert r.out == ""


def test_bill_without_a_daemon_exits_4(workdir):
    r = run_lamina("--socket", f"{workdir}/none.sock", "bill")
    assert r.returncode == 4
    assert "cannot connect to laminad" in r.err


def test_help_lists_the_new_commands():
    r = run_lamina("--help")
    assert r.returncode == 0
    for line in ("lamina top [--interval S] [--iterations N]",
                 "lamina bill [--function FN] [--since TIME]",
                 "lamina metrics"):
        assert line in r.out
    r = run_lamina("bill", "--help")
    assert r.returncode == 0 and r.out.startswith("usage: lamina bill [--function FN]")
