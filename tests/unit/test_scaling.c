/* SPDX-License-Identifier: MIT */
/*
 * The scheduler's measurements and the policy built on them: the arrival-rate estimator
 * converges to a steady rate and decays when arrivals stop, quantiles come out of the
 * histogram within its resolution, Little's law sizes the pre-warm target, admission
 * charges measured peaks and refuses past the budget or under memory pressure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../scheduler/scaling.h"
#include "../../scheduler/stats.h"

#define NS 1000000000ull
#define MB (1ull << 20)

static void rate_converges_and_decays(void **state)
{
	struct version_stats vs = { 0 };
	uint64_t t = 1000 * NS;

	(void)state;
	/* 20 arrivals per second for 60 s */
	for (int i = 0; i < 20 * 60; i++, t += NS / 20)
		stats_arrival(&vs, t);
	assert_true(stats_rate(&vs, t) > 19 && stats_rate(&vs, t) < 21);
	/* quiet: after 5 time constants under 1% is left */
	assert_true(stats_rate(&vs, t + 25 * NS) < 0.2);
	assert_true(stats_rate(&vs, t + 25 * NS) > 0);
}

static void quantiles_within_resolution(void **state)
{
	struct version_stats vs = { 0 };
	struct invocation_figures fig = { .memory_mb = 128, .billed_ms = 1 };

	(void)state;
	/* 98 invocations of 10 ms, 2 of 500 ms */
	for (int i = 0; i < 100; i++) {
		fig.duration_ns = (i < 98 ? 10 : 500) * 1000000ull;
		stats_completed(&vs, &fig);
	}
	assert_true(fabs(stats_duration_quantile(&vs, 0.5, 1) - 10) < 10 * 0.045);
	assert_true(fabs(stats_duration_quantile(&vs, 0.99, 1) - 500) < 500 * 0.045);
	assert_int_equal(vs.invocations, 100);
	assert_int_equal(vs.hist[4], 98); /* 10 ms: in the (5 ms, 10 ms] bucket */
	assert_int_equal(vs.billed_mb_ms, 100 * 128);
}

static void peak_follows_up_fast_and_down_slowly(void **state)
{
	struct version_stats vs = { 0 };
	struct invocation_figures fig = { .memory_mb = 512 };

	(void)state;
	fig.peak_bytes = 10 * MB;
	stats_completed(&vs, &fig);
	fig.peak_bytes = 100 * MB;
	stats_completed(&vs, &fig);
	assert_int_equal(vs.peak_bytes, 100 * MB);
	fig.peak_bytes = 10 * MB;
	stats_completed(&vs, &fig);
	assert_true(vs.peak_bytes > 95 * MB);
	assert_int_equal(vs.peak_bytes_ever, 100 * MB);
}

static void littles_law_target(void **state)
{
	(void)state;
	/* λ = 20/s, W = 100 ms: L = 2; headroom 1.5 → 3 */
	assert_int_equal(scaling_prewarm_target(20, 100, 1.5), 3);
	assert_int_equal(scaling_prewarm_target(20, 100, 2), 4);
	/* 1,000/s of 1 ms: L = 1 */
	assert_int_equal(scaling_prewarm_target(1000, 1, 1), 1);
	/* quiet versions keep nothing */
	assert_int_equal(scaling_prewarm_target(0.1, 1000, 2), 0);
	assert_int_equal(scaling_prewarm_target(50, 0, 2), 0);
}

static void instance_charge_is_measured_peak(void **state)
{
	struct version_stats vs = { 0 };

	(void)state;
	/* never measured: its configured size */
	assert_int_equal(scaling_instance_bytes(&vs, 512), 512 * MB);
	assert_int_equal(scaling_instance_bytes(NULL, 128), 128 * MB);
	vs.measured = true;
	vs.peak_bytes = 8 * MB;
	assert_int_equal(scaling_instance_bytes(&vs, 512), 8 * MB + MB + SCALING_PEAK_MARGIN);
	/* never more than the cgroup would allow */
	vs.peak_bytes = 500 * MB;
	assert_int_equal(scaling_instance_bytes(&vs, 512), 512 * MB);
}

static void admission(void **state)
{
	struct host_memory h = { .budget_bytes = 600 * MB, .min_available_bytes = 256 * MB,
				 .committed_bytes = 500 * MB, .available_bytes = 8192 * MB };

	(void)state;
	assert_true(scaling_admit(&h, 100 * MB));
	assert_false(scaling_admit(&h, 101 * MB));
	/* memory pressure: MemAvailable would drop under the floor */
	h.committed_bytes = 0;
	h.available_bytes = 300 * MB;
	assert_false(scaling_admit(&h, 50 * MB));
	assert_true(scaling_admit(&h, 40 * MB));
	/* unknown MemAvailable: the budget alone decides */
	h.available_bytes = 0;
	assert_true(scaling_admit(&h, 600 * MB));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rate_converges_and_decays),
		cmocka_unit_test(quantiles_within_resolution),
		cmocka_unit_test(peak_follows_up_fast_and_down_slowly),
		cmocka_unit_test(littles_law_target),
		cmocka_unit_test(instance_charge_is_measured_peak),
		cmocka_unit_test(admission),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
