/* SPDX-License-Identifier: MIT */
/*
 * /var/runtime/bootstrap of the java17 runtime: starts the JVM sized to the function.
 *
 * The instance cannot show the JVM its memory cgroup (there is no /sys inside), so left
 * alone the JVM would size its heap from the host's RAM and be killed by the cgroup at the
 * first large allocation. This launcher reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE and passes
 * explicit limits, the start-up options that matter for a cold start, and the runtime's
 * class-data-sharing archive when the build made one; then execs java. A static C program
 * rather than a shell script: it adds well under a millisecond.
 *
 * Options, and why:
 *   -Xshare:auto + archive      JDK and runtime classes mapped pre-parsed and pre-verified
 *   -XX:+UseG1GC, 1 thread each JDK 17 maps the archive's heap objects (the module graph,
 *                               interned strings) only under G1: ~12 ms less than SerialGC,
 *                               Lambda's choice, which must rebuild the module graph
 *   -XX:ArchiveRelocationMode=0 map the archive where it was dumped (17.0.15 relocates it
 *                               by default, ~5 ms of pointer patching at every start)
 *   -XX:TieredStopAtLevel=1     C1 only: compiles fast, which short functions need most
 *   -XX:CompileThresholdScaling=3  C1 compiles a method after 3x the calls: most of what
 *                               init runs 200 times never runs again, and compiling it cost
 *                               ~12 ms of CPU at each start (~3 now), taken from init's
 *                               threads on a busy host; hot code is still compiled
 *   -XX:-UsePerfData            no hsperfdata file in /tmp (a file, an mmap, a cleanup)
 *   -XX:MaxRAM                  the JVM's ergonomics see the function's memory, not the host's
 *   -Xmx/-Xms, metaspace, code cache: fractions of the memory, as Lambda's runtime does
 *   -Dfile.encoding=UTF-8       the locale may be missing inside; output must not turn to '?'
 * JAVA_TOOL_OPTIONS in the function's environment adds to or overrides these (the JVM
 * reads it itself).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef JAVA_BIN
#define JAVA_BIN "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
#endif
#define RUNTIME_DIR "/var/runtime"
#define ARCHIVE RUNTIME_DIR "/lamina.jsa"
/* The runtime alone: the function's code (/var/task, its jars, /opt/java/lib) has a class
 * loader of its own, made by the runtime (FunctionClassLoader). */
#define CLASSPATH RUNTIME_DIR "/lamina-runtime.jar"

int main(void)
{
	const char *m = getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
	long mb = m ? strtol(m, NULL, 10) : 128;
	static char maxram[48], xmx[48], xms[48], meta[48], code[48], share[96];
	const char *argv[32];
	int n = 0;

	if (mb < 64)
		mb = 64;
	/* The JVM's own native memory (GC and class metadata structures, threads, C1 and
	 * its code, malloc arenas) is ~40 MB at most for a small function: the heap gets
	 * 85% of the memory less that, and at least half of it. */
	long heap = mb * 85 / 100 - 40;
	if (heap < mb / 2)
		heap = mb / 2;
	long metaspace = mb / 10 > 24 ? mb / 10 : 24;
	long codecache = mb / 20 > 8 ? mb / 20 : 8;
	long initial = mb / 8 < heap ? mb / 8 : heap;

	snprintf(maxram, sizeof(maxram), "-XX:MaxRAM=%ldm", mb);
	snprintf(xmx, sizeof(xmx), "-Xmx%ldm", heap);
	snprintf(xms, sizeof(xms), "-Xms%ldm", initial);
	snprintf(meta, sizeof(meta), "-XX:MaxMetaspaceSize=%ldm", metaspace);
	snprintf(code, sizeof(code), "-XX:ReservedCodeCacheSize=%ldm", codecache);

	argv[n++] = JAVA_BIN;
	argv[n++] = "-XX:+UseG1GC";
	argv[n++] = "-XX:ParallelGCThreads=1";
	argv[n++] = "-XX:ConcGCThreads=1";
	argv[n++] = "-XX:+UnlockDiagnosticVMOptions";
	argv[n++] = "-XX:ArchiveRelocationMode=0";
	argv[n++] = "-XX:TieredStopAtLevel=1";
	argv[n++] = "-XX:CompileThresholdScaling=3";
	argv[n++] = "-XX:-UsePerfData";
	argv[n++] = "-Xshare:auto";
	if (access(ARCHIVE, R_OK) == 0) {
		snprintf(share, sizeof(share), "-XX:SharedArchiveFile=%s", ARCHIVE);
		argv[n++] = share;
	}
	argv[n++] = maxram;
	argv[n++] = xmx;
	argv[n++] = xms;
	argv[n++] = meta;
	argv[n++] = code;
	argv[n++] = "-Djava.net.preferIPv4Stack=true";
	argv[n++] = "-Dfile.encoding=UTF-8";
	argv[n++] = "-cp";
	argv[n++] = CLASSPATH;
	argv[n++] = "lamina.runtime.Bootstrap";
	argv[n] = NULL;

	execv(JAVA_BIN, (char *const *)argv);
	fprintf(stderr, "lamina java17 bootstrap: cannot execute %s: %m\n", JAVA_BIN);
	return 127;
}
