/* SPDX-License-Identifier: MIT */
/*
 * Function names, qualifiers and ARNs. Every refusal is an InvalidParameterValueException
 * whose message quotes the offending value and says which rule it broke, in the shape of
 * Lambda's validation messages ("Value 'x' at 'functionName' failed to satisfy …").
 */
#include "names.h"

#include <stdio.h>
#include <string.h>

/* Quoted values are cut so a message always has room for the rule that was broken. */
#define QUOTE_MAX 160

#define NAME_PATTERN "[a-zA-Z0-9-_]+"
#define QUALIFIER_PATTERN "(|[a-zA-Z0-9$_-]+)"

/*
 * Longest reference accepted: arn:aws:lambda:<region>:<account>:function:<64>:<128> is
 * 236 characters with region "local"; the rest leaves room for long region names.
 */
#define REF_MAX_LEN 320

/* A version number fits struct function_version's version[16] with room to spare. */
#define VERSION_MAX_DIGITS 15

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static bool all_name_chars(const char *s)
{
	for (; *s; s++)
		if (!is_name_char(*s))
			return false;
	return true;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

bool name_is_valid_function(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	return n >= 1 && n <= NAME_MAX_LEN && all_name_chars(name);
}

bool name_is_version_number(const char *s)
{
	if (!s || !all_digits(s))
		return false;
	return s[0] != '0' && strlen(s) <= VERSION_MAX_DIGITS;
}

bool name_is_valid_alias(const char *alias)
{
	size_t n;

	if (!alias)
		return false;
	n = strlen(alias);
	return n >= 1 && n <= QUALIFIER_MAX_LEN && all_name_chars(alias) && !all_digits(alias);
}

bool name_is_valid_qualifier(const char *qualifier)
{
	if (!qualifier)
		return false;
	return strcmp(qualifier, "$LATEST") == 0 || name_is_version_number(qualifier) ||
	       name_is_valid_alias(qualifier);
}

/* Why a qualifier is refused; quoted is the value as the caller gave it. */
static int qualifier_error(const char *quoted, const char *qualifier, const char *field,
			   struct api_error *err)
{
	const char *why;

	if (!*qualifier)
		why = "Member must have length greater than or equal to 1";
	else if (strlen(qualifier) > QUALIFIER_MAX_LEN)
		why = "Member must have length less than or equal to 128";
	else if (strchr(qualifier, '$'))
		why = "the only qualifier with a '$' is $LATEST";
	else if (!all_name_chars(qualifier))
		why = "Member must satisfy regular expression pattern: " QUALIFIER_PATTERN;
	else if (qualifier[0] == '0')
		why = "a version number has no leading zeros and starts at 1";
	else
		why = "a version number has at most 15 digits";
	return api_error_set(err, API_ERR_INVALID,
			     "1 validation error detected: Value '%.*s' at '%s' failed to satisfy "
			     "constraint: %s",
			     QUOTE_MAX, quoted, field, why);
}

/* The name part of ref is refused; the message quotes the whole value, as Lambda's do. */
static int name_error(const char *ref, const char *name, struct api_error *err)
{
	const char *why;

	if (!*name)
		why = "the function name is empty";
	else if (strlen(name) > NAME_MAX_LEN)
		why = "Member must have length less than or equal to 64";
	else
		why = "Member must satisfy regular expression pattern: " NAME_PATTERN;
	return api_error_set(err, API_ERR_INVALID,
			     "1 validation error detected: Value '%.*s' at 'functionName' failed to "
			     "satisfy constraint: %s",
			     QUOTE_MAX, ref, why);
}

static int malformed(const char *ref, const char *why, struct api_error *err)
{
	return api_error_set(err, API_ERR_INVALID,
			     "1 validation error detected: Value '%.*s' at 'functionName' failed to "
			     "satisfy constraint: %s",
			     QUOTE_MAX, ref, why);
}

/* Splits s at ':' into at most max fields (pointers into buf). Returns the field count,
 * or max + 1 when there are more. */
static size_t split_colons(char *buf, char **fields, size_t max)
{
	size_t n = 0;
	char *p = buf;

	for (;;) {
		char *colon = strchr(p, ':');

		if (n == max)
			return max + 1;
		fields[n++] = p;
		if (!colon)
			return n;
		*colon = '\0';
		p = colon + 1;
	}
}

static int check_account(const char *ref, const char *got, const char *account,
			 struct api_error *err)
{
	if (account && strcmp(got, account) != 0)
		return api_error_set(err, API_ERR_INVALID,
				     "Function '%.*s' belongs to account '%.*s'; this service only "
				     "has functions of account '%s'",
				     QUOTE_MAX, ref, 64, got, account);
	return 0;
}

int name_parse_ref(const char *ref, const char *qualifier, const char *region,
		   const char *account, struct function_ref *out, struct api_error *err)
{
	char buf[REF_MAX_LEN + 1];
	char *f[9];
	const char *name, *ref_qualifier = NULL;
	size_t n;

	if (!ref || !*ref)
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '' at 'functionName' "
				     "failed to satisfy constraint: Member must have length greater "
				     "than or equal to 1");
	if (strlen(ref) > REF_MAX_LEN)
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '%.*s…' at 'functionName' "
				     "failed to satisfy constraint: Member must have length less than "
				     "or equal to %d",
				     QUOTE_MAX, ref, REF_MAX_LEN);
	strcpy(buf, ref);
	n = split_colons(buf, f, 8);

	if (strcmp(f[0], "arn") == 0) {
		/* arn : partition : service : region : account : function : name [: q] */
		if (n < 3 || strcmp(f[2], "lambda") != 0)
			return malformed(ref, "not a Lambda function ARN (expected "
					      "arn:aws:lambda:<region>:<account>:function:<name>)",
					 err);
		if (strcmp(f[1], "aws") != 0)
			return malformed(ref, "the ARN's partition must be 'aws'", err);
		if (n < 7 || n > 8 || strcmp(f[5], "function") != 0)
			return malformed(ref, "not a Lambda function ARN (expected "
					      "arn:aws:lambda:<region>:<account>:function:<name>"
					      "[:<qualifier>])",
					 err);
		if (region && strcmp(f[3], region) != 0)
			return api_error_set(err, API_ERR_INVALID,
					     "Functions from '%.*s' are not reachable in this region "
					     "('%s'): '%.*s'",
					     64, f[3], region, QUOTE_MAX, ref);
		if (check_account(ref, f[4], account, err) < 0)
			return -1;
		name = f[6];
		if (n == 8)
			ref_qualifier = f[7];
	} else if (n >= 3 && strcmp(f[1], "function") == 0) {
		/* account : function : name [: q] */
		if (n > 4)
			return malformed(ref, "too many ':'-separated parts for "
					      "<account>:function:<name>[:<qualifier>]",
					 err);
		if (!account && (!all_digits(f[0]) || strlen(f[0]) != 12))
			return malformed(ref, "a partial ARN starts with a 12-digit account id",
					 err);
		if (check_account(ref, f[0], account, err) < 0)
			return -1;
		name = f[2];
		if (n == 4)
			ref_qualifier = f[3];
	} else if (n <= 2) {
		name = f[0];
		if (n == 2)
			ref_qualifier = f[1];
	} else {
		return malformed(ref, "expected a name, name:qualifier, "
				      "<account>:function:<name>[:<qualifier>] or a function ARN",
				 err);
	}

	if (!name_is_valid_function(name))
		return name_error(ref, name, err);
	if (ref_qualifier && !*ref_qualifier)
		return malformed(ref, "a ':' must be followed by a qualifier ($LATEST, a version "
				      "or an alias)",
				 err);
	if (ref_qualifier && !name_is_valid_qualifier(ref_qualifier))
		return qualifier_error(ref, ref_qualifier, "functionName", err);
	if (qualifier && *qualifier) {
		if (!name_is_valid_qualifier(qualifier))
			return qualifier_error(qualifier, qualifier, "qualifier", err);
		if (ref_qualifier && strcmp(qualifier, ref_qualifier) != 0)
			return api_error_set(err, API_ERR_INVALID,
					     "The derived qualifier from the function name does not "
					     "match the specified qualifier.");
		ref_qualifier = qualifier;
	}

	memset(out, 0, sizeof(*out));
	strcpy(out->name, name);
	if (ref_qualifier)
		strcpy(out->qualifier, ref_qualifier);
	return 0;
}

void name_format_arn(char *buf, size_t size, const char *region, const char *account,
		     const char *name, const char *qualifier)
{
	if (qualifier && *qualifier)
		snprintf(buf, size, "arn:aws:lambda:%s:%s:function:%s:%s", region, account, name,
			 qualifier);
	else
		snprintf(buf, size, "arn:aws:lambda:%s:%s:function:%s", region, account, name);
}
