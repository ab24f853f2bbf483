/* SPDX-License-Identifier: MIT */
#include "runtimes.h"

#include <stddef.h>
#include <string.h>

static const struct language_runtime runtimes[] = {
	{ "python3.11", "python3.11", { "/usr/bin/python3", "/var/runtime/bootstrap.py" },
	  "AWS_Lambda_python3.11" },
	{ "nodejs20.x", "nodejs20.x", { "/usr/bin/node", "/var/runtime/bootstrap.js" },
	  "AWS_Lambda_nodejs20.x" },
	/* A static launcher that sizes the JVM to the function's memory, then execs java. */
	{ "java17", "java17", { "/var/runtime/bootstrap" }, "AWS_Lambda_java17" },
	/* C# on Mono: the bootstrap is a C# program (AOT-compiled at build time). */
	{ "dotnet", "dotnet", { "/usr/bin/mono", "/var/runtime/bootstrap.exe" }, "AWS_Lambda_dotnet" },
	/* A static Go binary built against images/runtimes/go/lamina: `provided` semantics. */
	{ "go", NULL, { "/var/task/bootstrap" }, "AWS_Lambda_go" },
	{ "provided", NULL, { "/var/task/bootstrap" }, "AWS_Lambda_provided" },
};

const struct language_runtime *runtime_find(const char *name)
{
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (!strcmp(runtimes[i].name, name))
			return &runtimes[i];
	return NULL;
}

const char *runtime_names(void)
{
	return "python3.11, nodejs20.x, java17, dotnet, go, provided";
}
