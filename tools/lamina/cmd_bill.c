/* SPDX-License-Identifier: MIT */
/* bill: requests, GB-seconds and cost per function and in total, from the ledger. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

enum {
	OPT_FUNCTION = OPT_COMMAND,
	OPT_SINCE,
};

/* Digits and at most one '.' with digits on both sides: [0-9]+(\.[0-9]+)? */
static const char *skip_decimal(const char *s)
{
	const char *p = s;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return s;
	if (*p == '.') {
		const char *frac = ++p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == frac)
			return s;
	}
	return p;
}

/* Exactly n digits at *p, advancing it. */
static bool take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * ISO-8601, extended format: YYYY-MM-DD, optionally followed by 'T' (or a space) and
 * HH:MM[:SS[.fraction]], then 'Z' or an offset ±HH[:MM] or ±HHMM; UTC when there is none.
 */
static bool parse_iso8601(const char *s, double *out)
{
	static const int month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	int year, month, day, hour = 0, minute = 0, second = 0, offset = 0;
	double fraction = 0;
	const char *p = s;
	time_t t;

	if (!take_digits(&p, 4, &year) || *p++ != '-' || !take_digits(&p, 2, &month) ||
	    *p++ != '-' || !take_digits(&p, 2, &day))
		return false;
	if (month < 1 || month > 12 || day < 1 ||
	    day > month_days[month - 1] + (month == 2 && leap_year(year)))
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!take_digits(&p, 2, &hour) || *p++ != ':' || !take_digits(&p, 2, &minute))
			return false;
		if (*p == ':') {
			p++;
			if (!take_digits(&p, 2, &second))
				return false;
			if (*p == '.' || *p == ',') {
				double scale = 0.1;

				if (p[1] < '0' || p[1] > '9')
					return false;
				for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
					fraction += (*p - '0') * scale;
			}
		}
		/* 24:00 would be the next day: say that instead. Leap seconds are not unix time. */
		if (hour > 23 || minute > 59 || second > 59)
			return false;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, off_h, off_m = 0;

			if (!take_digits(&p, 2, &off_h))
				return false;
			if (*p == ':' ? (p++, !take_digits(&p, 2, &off_m))
				      : *p && !take_digits(&p, 2, &off_m))
				return false;
			if (off_h > 23 || off_m > 59)
				return false;
			offset = sign * (off_h * 3600 + off_m * 60);
		}
	}
	if (*p)
		return false;
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = second;
	t = timegm(&tm);
	*out = (double)t - offset + fraction;
	return true;
}

/* A relative age: a number and a unit, s, m, h, d or w ("30m", "1.5h", "7d"). */
static bool parse_age(const char *s, double *out)
{
	const char *end = skip_decimal(s);
	double unit;

	if (end == s || !end[0] || end[1])
		return false;
	switch (*end) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return false;
	}
	*out = strtod(s, NULL) * unit;
	return isfinite(*out);
}

/*
 * --since TIME as unix seconds: an ISO-8601 date or date-time, unix seconds, or an age
 * before now. Whole seconds go out as a JSON integer, others as a real.
 */
static int parse_since(const struct command *cmd, const char *value, json_t **out)
{
	double since, age;

	if (parse_age(value, &age)) {
		since = (double)time(NULL) - age;
	} else if (*value && !*skip_decimal(value)) {
		errno = 0;
		since = strtod(value, NULL);
		if (errno == ERANGE || !isfinite(since))
			goto invalid;
	} else if (!parse_iso8601(value, &since)) {
		goto invalid;
	}
	if (since < 0)
		return cli_usage_error(cmd, "--since: invalid value '%s' (before 1970)", value);
	/* 2^53: beyond it a double is not an exact whole number of seconds anyway. */
	if (since > 9007199254740992.0)
		goto invalid;
	if (since == floor(since))
		*out = json_integer((json_int_t)since);
	else
		*out = json_real(since);
	if (!*out)
		cli_oom();
	return 0;
invalid:
	return cli_usage_error(cmd,
			       "--since: invalid value '%s' (expected an ISO-8601 date or date-time, "
			       "unix seconds, or an age like 30m, 12h, 7d)",
			       value);
}

static double number(const json_t *obj, const char *key)
{
	return json_number_value(json_object_get(obj, key));
}

static char *must(char *s)
{
	if (!s)
		cli_oom();
	return s;
}

/*
 * Dollars with at least two decimals and, for the fractions of a cent that a local
 * bill is made of, three significant digits: $1.50, $0.0123, $0.000000200.
 */
static char *format_money(double v)
{
	double mag = fabs(v);
	int decimals = 2;
	char *s;

	if (mag > 0 && mag < 0.1) {
		decimals = 2 - (int)floor(log10(mag));
		if (decimals > 12)
			decimals = 12;
	}
	if (asprintf(&s, "%s$%.*f", v < 0 ? "-" : "", decimals, mag) < 0)
		cli_oom();
	return s;
}

/* A number without float noise: up to decimals decimals, trailing zeros dropped. */
static char *format_decimal(double v, int decimals)
{
	char *s, *end;

	if (asprintf(&s, "%.*f", decimals, v) < 0)
		cli_oom();
	end = s + strlen(s);
	while (end[-1] == '0')
		*--end = '\0';
	if (end[-1] == '.')
		*--end = '\0';
	if (!strcmp(s, "-0"))
		strcpy(s, "0");
	return s;
}

static char *format_quantity(double v)
{
	return format_decimal(v, 9);
}

static char *format_count(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return output_format(v);
	return json_is_number(v) ? format_quantity(json_number_value(v)) : must(strdup("-"));
}

static char *format_negated(double v)
{
	return v > 0 ? format_quantity(-v) : must(strdup("0"));
}

/* "2024-05-01T12:00:00Z", with milliseconds when there are any. */
static void format_time(double unix_s, char *buf, size_t size)
{
	time_t secs = (time_t)floor(unix_s);
	int ms = (int)lround((unix_s - (double)secs) * 1000);
	struct tm tm;
	size_t n;

	if (ms == 1000) {
		secs++;
		ms = 0;
	}
	gmtime_r(&secs, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms)
		snprintf(buf + n, size - n, ".%03dZ", ms);
	else
		snprintf(buf + n, size - n, "Z");
}

static void print_bill(const json_t *result)
{
	static const char *const headers[] = { "FUNCTION", "REQUESTS", "GB-SECONDS", "BILLED MS",
					       "COST", NULL };
	const json_t *since = json_object_get(result, "Since");
	const json_t *prices = json_object_get(result, "Prices");
	const json_t *total = json_object_get(result, "Total");
	struct table *t = table_new(headers);
	double before = 0, credit;
	const json_t *fn;
	size_t i;

	if (json_is_number(since)) {
		char when[48];

		format_time(json_number_value(since), when, sizeof(when));
		printf("Invocations since %s\n", when);
	} else {
		printf("All invocations in the ledger\n");
	}

	json_array_foreach (json_object_get(result, "Functions"), i, fn) {
		char *row[] = {
			output_format(json_object_get(fn, "FunctionName")),
			format_count(fn, "Requests"),
			format_quantity(number(fn, "GbSeconds")),
			format_count(fn, "BilledDurationMs"),
			format_money(number(fn, "Cost")),
		};
		table_add_owned(t, row);
		before += number(fn, "Cost");
	}

	/*
	 * Per-function costs are before the free tier, Total.Cost after it: the free tier's
	 * credit is the difference, so that the three lines add up as printed.
	 */
	credit = before - number(total, "Cost");
	{
		char *row[] = {
			must(strdup("TOTAL")),
			format_count(total, "Requests"),
			format_quantity(number(total, "GbSeconds")),
			format_count(total, "BilledDurationMs"),
			format_money(before),
		};
		table_add_owned(t, row);
	}
	{
		char *row[] = {
			must(strdup("FREE TIER")),
			format_negated(number(total, "FreeRequestsApplied")),
			format_negated(number(total, "FreeGbSecondsApplied")),
			must(strdup("")),
			format_money(credit > 0 ? -credit : 0),
		};
		table_add_owned(t, row);
	}
	{
		char *row[] = {
			must(strdup("TO PAY")), must(strdup("")), must(strdup("")), must(strdup("")),
			format_money(number(total, "Cost")),
		};
		table_add_owned(t, row);
	}
	table_print(t, stdout);
	table_free(t);

	if (json_is_object(prices)) {
		_cleanup_free_ char *per_million =
			format_money(number(prices, "PricePerRequest") * 1e6);
		_cleanup_free_ char *free_gb_s = format_quantity(number(prices, "FreeGbSeconds"));
		_cleanup_free_ char *free_requests = format_count(prices, "FreeRequests");
		_cleanup_free_ char *granularity = format_count(prices, "BillingGranularityMs");
		/* The price per GB-second as AWS writes it: $0.0000166667. */
		_cleanup_free_ char *per_gb_s = format_decimal(number(prices, "PricePerGbSecond"), 12);

		printf("Prices: %s per million requests, $%s per GB-second, billed per %s ms; "
		       "free tier: %s requests and %s GB-seconds\n",
		       per_million, per_gb_s, granularity, free_requests, free_gb_s);
	}
}

static int bill_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{ "function", required_argument, NULL, OPT_FUNCTION },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ 0 },
	};
	static const char *const none[] = { NULL };
	_cleanup_json_ json_t *req = cli_request("GetBill"), *result = NULL, *since = NULL;
	_cleanup_free_ char *text = NULL;
	const char *function = NULL;
	size_t len;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_FUNCTION:
			function = optarg;
			break;
		case OPT_SINCE:
			json_decref(since);
			since = NULL;
			if ((r = parse_since(cmd, optarg, &since)))
				return r;
			break;
		default:
			if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
				return r;
		}
	}
	if ((r = cli_positionals(cmd, argc, argv, none, 0)))
		return r;
	if (function && !*function)
		return cli_usage_error(cmd, "--function must not be empty");

	if (function)
		cli_set(req, "FunctionName", json_string(function));
	if (since)
		cli_set(req, "Since", json_incref(since));
	if ((r = cli_call_text(cli, req, &result, &text, &len)))
		return r;
	if (cli->json)
		output_raw(text, len);
	else
		print_bill(result);
	return 0;
}

const struct command cmd_bill = {
	.name = "bill",
	.run = bill_run,
	.usage = "bill [--function FN] [--since TIME]",
	.help = "Print what the invocations in the billing ledger cost: requests, GB-seconds,\n"
		"billed milliseconds and cost per function, then the total, the free tier and\n"
		"what is left to pay, at the daemon's prices.\n\n"
		"  --function FN  only this function\n"
		"  --since TIME   only invocations that started at TIME or later: an ISO-8601\n"
		"                 date or date-time (2024-05-01, 2024-05-01T12:00:00+02:00; UTC\n"
		"                 unless it has an offset), unix seconds, or an age before now\n"
		"                 (90s, 30m, 12h, 7d, 2w)\n\n"
		"Per-function costs are before the free tier, which applies once to the total.\n",
};
