/* SPDX-License-Identifier: MIT */
/*
 * Function names, qualifiers and ARNs: every form Lambda accepts parses to the same
 * (name, qualifier), and every malformed one is refused with a message quoting it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../scheduler/names.h"

#define REGION "local"
#define ACCOUNT "000000000000"

static void parses_to(const char *ref, const char *qualifier, const char *name,
		      const char *want_qualifier)
{
	struct function_ref out;
	struct api_error err = { 0 };

	if (name_parse_ref(ref, qualifier, REGION, ACCOUNT, &out, &err) != 0)
		fail_msg("'%s' (qualifier '%s') refused: %s", ref, qualifier ? qualifier : "(null)",
			 err.message);
	assert_string_equal(out.name, name);
	assert_string_equal(out.qualifier, want_qualifier);
}

/* Refused as InvalidParameterValueException with every `quoted` string in the message. */
static void refused(const char *ref, const char *qualifier, const char *quoted,
		    const char *also)
{
	struct function_ref out;
	struct api_error err = { 0 };

	if (name_parse_ref(ref, qualifier, REGION, ACCOUNT, &out, &err) == 0)
		fail_msg("'%s' (qualifier '%s') accepted as '%s' / '%s'", ref ? ref : "(null)",
			 qualifier ? qualifier : "(null)", out.name, out.qualifier);
	assert_non_null(err.type);
	assert_string_equal(err.type, "InvalidParameterValueException");
	if (quoted && !strstr(err.message, quoted))
		fail_msg("message for '%s' does not quote '%s': %s", ref, quoted, err.message);
	if (also && !strstr(err.message, also))
		fail_msg("message for '%s' does not say '%s': %s", ref, also, err.message);
}

static void test_plain_name_is_unqualified(void **state)
{
	(void)state;
	parses_to("my-function", NULL, "my-function", "");
	parses_to("My_Function_2", "", "My_Function_2", "");
	parses_to("a", NULL, "a", "");
	parses_to("0123456789", NULL, "0123456789", "");
}

static void test_name_colon_qualifier_forms(void **state)
{
	(void)state;
	parses_to("fn:$LATEST", NULL, "fn", "$LATEST");
	parses_to("fn:1", NULL, "fn", "1");
	parses_to("fn:42", NULL, "fn", "42");
	parses_to("fn:live", NULL, "fn", "live");
	parses_to("fn:v-1_b", NULL, "fn", "v-1_b");
	parses_to("fn:1a", NULL, "fn", "1a");
	/* "function" after a name is an alias called "function", not a partial ARN. */
	parses_to("fn:function", NULL, "fn", "function");
}

static void test_partial_arn_forms(void **state)
{
	(void)state;
	parses_to("000000000000:function:fn", NULL, "fn", "");
	parses_to("000000000000:function:fn:7", NULL, "fn", "7");
	parses_to("000000000000:function:fn:$LATEST", NULL, "fn", "$LATEST");
	parses_to("000000000000:function:fn:prod", NULL, "fn", "prod");
}

static void test_full_arn_forms(void **state)
{
	(void)state;
	parses_to("arn:aws:lambda:local:000000000000:function:fn", NULL, "fn", "");
	parses_to("arn:aws:lambda:local:000000000000:function:fn:3", NULL, "fn", "3");
	parses_to("arn:aws:lambda:local:000000000000:function:fn:$LATEST", NULL, "fn",
		  "$LATEST");
	parses_to("arn:aws:lambda:local:000000000000:function:fn:blue", NULL, "fn", "blue");
}

static void test_separate_qualifier_applies_to_unqualified_ref(void **state)
{
	(void)state;
	parses_to("fn", "5", "fn", "5");
	parses_to("fn", "$LATEST", "fn", "$LATEST");
	parses_to("arn:aws:lambda:local:000000000000:function:fn", "live", "fn", "live");
	parses_to("000000000000:function:fn", "2", "fn", "2");
}

static void test_separate_qualifier_agreeing_with_ref_is_accepted(void **state)
{
	(void)state;
	parses_to("fn:5", "5", "fn", "5");
	parses_to("arn:aws:lambda:local:000000000000:function:fn:live", "live", "fn", "live");
}

static void test_mismatched_qualifier_is_refused_with_lambdas_message(void **state)
{
	(void)state;
	refused("fn:5", "6", NULL,
		"The derived qualifier from the function name does not match the specified "
		"qualifier.");
	refused("fn:live", "$LATEST", NULL, "does not match");
	refused("arn:aws:lambda:local:000000000000:function:fn:1", "blue", NULL,
		"does not match");
}

static void test_empty_or_missing_ref_is_refused(void **state)
{
	(void)state;
	refused("", NULL, "''", "length greater than or equal to 1");
	refused(NULL, NULL, "''", NULL);
}

static void test_name_length_limit_is_64(void **state)
{
	char name[66];

	(void)state;
	memset(name, 'x', 64);
	name[64] = '\0';
	parses_to(name, NULL, name, "");
	name[64] = 'y';
	name[65] = '\0';
	refused(name, NULL, name, "less than or equal to 64");
	assert_false(name_is_valid_function(name));
}

static void test_name_with_bad_characters_is_refused(void **state)
{
	static const char *const bad[] = { "my function", "fn.v2", "fn/x", "fn$", "fn=1",
					   "fünf",       "fn\n",  "fn*",  "a;b" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		refused(bad[i], NULL, bad[i], "regular expression");
		assert_false(name_is_valid_function(bad[i]));
	}
}

static void test_trailing_leading_and_double_colons_are_refused(void **state)
{
	(void)state;
	refused("fn:", NULL, "'fn:'", "followed by a qualifier");
	refused(":fn", NULL, "':fn'", NULL);
	refused("fn::1", NULL, "'fn::1'", NULL);
	refused("fn:1:2", NULL, "'fn:1:2'", NULL);
	refused("arn:aws:lambda:local:000000000000:function:fn:", NULL, "function:fn:'",
		"followed by a qualifier");
	refused("000000000000:function:", NULL, "000000000000:function:'", "empty");
}

static void test_bad_qualifiers_are_refused(void **state)
{
	char alias[131];

	(void)state;
	refused("fn:0", NULL, "'fn:0'", "leading zeros");
	refused("fn:007", NULL, "'fn:007'", "leading zeros");
	refused("fn:$latest", NULL, "'fn:$latest'", "only qualifier with a '$' is $LATEST");
	refused("fn:$LATEST2", NULL, "'fn:$LATEST2'", "'$'");
	refused("fn:a.b", NULL, "'fn:a.b'", "regular expression");
	refused("fn:1234567890123456", NULL, "'fn:1234567890123456'", "15 digits");
	refused("fn", "a b", "'a b'", "'qualifier'");
	refused("fn", "00", "'00'", NULL);
	memset(alias, 'q', 129);
	alias[129] = '\0';
	refused("fn", alias, "qqqq", "less than or equal to 128");
	alias[128] = '\0';
	parses_to("fn", alias, "fn", alias);
}

static void test_empty_separate_qualifier_means_none(void **state)
{
	(void)state;
	parses_to("fn", "", "fn", "");
	parses_to("fn:3", "", "fn", "3");
}

static void test_wrong_region_is_refused_naming_the_expected_one(void **state)
{
	(void)state;
	refused("arn:aws:lambda:us-east-1:000000000000:function:fn", NULL, "'us-east-1'",
		"('local')");
}

static void test_wrong_account_is_refused_naming_the_expected_one(void **state)
{
	(void)state;
	refused("arn:aws:lambda:local:123456789012:function:fn", NULL, "'123456789012'",
		"'000000000000'");
	refused("123456789012:function:fn:1", NULL, "'123456789012'", "'000000000000'");
}

static void test_arn_of_another_service_or_resource_is_refused(void **state)
{
	(void)state;
	refused("arn:aws:s3:::my-bucket", NULL, "'arn:aws:s3:::my-bucket'",
		"not a Lambda function ARN");
	refused("arn:aws:lambda:local:000000000000:layer:lib:1", NULL, "layer:lib:1",
		"not a Lambda function ARN");
	refused("arn:aws:lambda:local:000000000000:function", NULL, "function'",
		"not a Lambda function ARN");
	refused("arn:aws:lambda:local:000000000000:function:fn:1:extra", NULL, ":extra'",
		"not a Lambda function ARN");
	refused("arn:aws-cn:lambda:local:000000000000:function:fn", NULL, "aws-cn", "partition");
	refused("arn", NULL, "'arn'", NULL);
}

static void test_partial_arn_must_name_this_account(void **state)
{
	struct function_ref out;
	struct api_error err = { 0 };

	(void)state;
	refused("12345:function:fn", NULL, "'12345'", "'000000000000'");
	refused("abcdefabcdef:function:fn", NULL, "abcdefabcdef", "'000000000000'");
	refused("000000000000:function:fn:1:2", NULL, "fn:1:2'", NULL);
	/* With no account to compare, the shape is checked: 12 digits. */
	assert_int_equal(name_parse_ref("12345:function:fn", NULL, NULL, NULL, &out, &err), -1);
	assert_non_null(strstr(err.message, "12-digit"));
	assert_int_equal(name_parse_ref("123456789012:function:fn", NULL, NULL, NULL, &out, &err),
			 0);
}

static void test_bad_name_inside_an_arn_is_refused(void **state)
{
	(void)state;
	refused("arn:aws:lambda:local:000000000000:function:bad.name", NULL, "bad.name",
		"regular expression");
	refused("000000000000:function:bad name", NULL, "bad name", NULL);
}

static void test_overlong_reference_is_refused(void **state)
{
	char ref[1000];

	(void)state;
	memset(ref, 'a', sizeof(ref) - 1);
	ref[sizeof(ref) - 1] = '\0';
	refused(ref, NULL, "aaaa", "less than or equal to");
}

static void test_predicates(void **state)
{
	(void)state;
	assert_true(name_is_version_number("1"));
	assert_true(name_is_version_number("10"));
	assert_false(name_is_version_number("0"));
	assert_false(name_is_version_number("01"));
	assert_false(name_is_version_number(""));
	assert_false(name_is_version_number("1a"));
	assert_false(name_is_version_number(NULL));

	assert_true(name_is_valid_alias("live"));
	assert_true(name_is_valid_alias("1a"));
	assert_true(name_is_valid_alias("-"));
	assert_false(name_is_valid_alias("123"));
	assert_false(name_is_valid_alias("$LATEST"));
	assert_false(name_is_valid_alias(""));
	assert_false(name_is_valid_alias(NULL));

	assert_true(name_is_valid_qualifier("$LATEST"));
	assert_true(name_is_valid_qualifier("3"));
	assert_true(name_is_valid_qualifier("prod"));
	assert_false(name_is_valid_qualifier(""));
	assert_false(name_is_valid_qualifier("03"));
	assert_false(name_is_valid_qualifier("a:b"));

	assert_true(name_is_valid_function("f"));
	assert_false(name_is_valid_function(""));
	assert_false(name_is_valid_function(NULL));
}

static void test_format_arn(void **state)
{
	char buf[256];

	(void)state;
	name_format_arn(buf, sizeof(buf), "local", "000000000000", "fn", NULL);
	assert_string_equal(buf, "arn:aws:lambda:local:000000000000:function:fn");
	name_format_arn(buf, sizeof(buf), "local", "000000000000", "fn", "");
	assert_string_equal(buf, "arn:aws:lambda:local:000000000000:function:fn");
	name_format_arn(buf, sizeof(buf), "eu-west-1", "123456789012", "fn", "live");
	assert_string_equal(buf, "arn:aws:lambda:eu-west-1:123456789012:function:fn:live");
}

static void test_formatted_arn_parses_back(void **state)
{
	char buf[256];

	(void)state;
	name_format_arn(buf, sizeof(buf), REGION, ACCOUNT, "round-trip", "12");
	parses_to(buf, NULL, "round-trip", "12");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_name_is_unqualified),
		cmocka_unit_test(test_name_colon_qualifier_forms),
		cmocka_unit_test(test_partial_arn_forms),
		cmocka_unit_test(test_full_arn_forms),
		cmocka_unit_test(test_separate_qualifier_applies_to_unqualified_ref),
		cmocka_unit_test(test_separate_qualifier_agreeing_with_ref_is_accepted),
		cmocka_unit_test(test_mismatched_qualifier_is_refused_with_lambdas_message),
		cmocka_unit_test(test_empty_or_missing_ref_is_refused),
		cmocka_unit_test(test_name_length_limit_is_64),
		cmocka_unit_test(test_name_with_bad_characters_is_refused),
		cmocka_unit_test(test_trailing_leading_and_double_colons_are_refused),
		cmocka_unit_test(test_bad_qualifiers_are_refused),
		cmocka_unit_test(test_empty_separate_qualifier_means_none),
		cmocka_unit_test(test_wrong_region_is_refused_naming_the_expected_one),
		cmocka_unit_test(test_wrong_account_is_refused_naming_the_expected_one),
		cmocka_unit_test(test_arn_of_another_service_or_resource_is_refused),
		cmocka_unit_test(test_partial_arn_must_name_this_account),
		cmocka_unit_test(test_bad_name_inside_an_arn_is_refused),
		cmocka_unit_test(test_overlong_reference_is_refused),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_format_arn),
		cmocka_unit_test(test_formatted_arn_parses_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
