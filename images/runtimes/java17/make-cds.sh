#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make-cds.sh JAVA_HOME RUNTIME_DIR WORK_DIR — the java17 runtime's class-data-sharing
# archive, RUNTIME_DIR/lamina.jsa.
#
# 1. A training run (Bootstrap --train: the runtime's code paths with the handler shapes
#    users write, against canned Runtime API responses) lists the classes it loads.
# 2. -Xshare:dump maps them, pre-parsed and pre-verified, into one archive with the JDK's
#    own start-up classes.
# 3. A second training run, as an instance starts: with that archive and a handler in a
#    jar in /var/task. It loads what only such a start loads (the JDK's code that gives
#    archived classes their protection domain, the jar and directory reading of the
#    function's class loader): the archive is dumped again with those classes too (~1 ms
#    of every cold start).
#
# The JVM accepts an archive only if the class path it was dumped with is a prefix of the
# one it runs with, path for path, and the jar's size and mtime are unchanged. Inside an
# instance the jar is /var/runtime/lamina-runtime.jar, so the dump runs in a private mount
# namespace where RUNTIME_DIR is bound at /var/runtime (a tmpfs hides the host's /var
# there first, so nothing is created on the host). That needs root; without it no archive
# is made and instances start without one (the launcher checks), only slower.
set -eu

java_home=$1
rt=$(cd "$2" && pwd)
work=$3
java=$java_home/bin/java

mkdir -p "$work"

"$java" -Xshare:off -XX:+UseG1GC -XX:DumpLoadedClassList="$work/classlist" \
	-cp "$rt/lamina-runtime.jar" lamina.runtime.Bootstrap --train

# An archive left from an older jar would only be refused by the JVM: remove it whenever
# no new one is made. (A new one replaces it by rename, under running instances' feet.)
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
	echo "  (no CDS archive for java17: making it needs root and unshare)" >&2
	rm -f "$rt/lamina.jsa"
	exit 0
fi

# Heap objects (interned strings, the module graph) are archived, and later mapped, only
# under G1, so the dump and the instances use it. A heap below 4 GB at dump time gives the
# compressed-oops encoding functions' heaps have: no relocation of those objects at start.
#
# The second training run's handler: a class of its own, in a jar in /var/task as user
# code is (the example's layout), with a string concatenation, and a class it uses from
# the classes directory /var/task; both load through the runtime's FunctionClassLoader.
# Those classes are not archived (they are not on the class path), the JDK and runtime
# classes that load, rewrite and define them are.
rm -rf "$work/task"
mkdir -p "$work/task/src" "$work/task/classes" "$work/task/root/lamina/train"
cat >"$work/task/src/Task.java" <<'JAVA'
package lamina.train;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.Map;

public class Task {
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        event.put("request", "id " + context.getAwsRequestId() + " left " + context.getRemainingTimeInMillis());
        event.put("part", new Part().toString());
        return event;
    }
}
JAVA
cat >"$work/task/src/Part.java" <<'JAVA'
package lamina.train;

class Part {
}
JAVA
"$java_home/bin/javac" -nowarn -cp "$rt/lamina-runtime.jar" -d "$work/task/classes" \
	"$work/task/src/Task.java" "$work/task/src/Part.java"
mv "$work/task/classes/lamina/train/Part.class" "$work/task/root/lamina/train/"
"$java_home/bin/jar" --create --file "$work/task/root/task.jar" -C "$work/task/classes" .

if ! unshare -m --propagation private sh -eu -c '
	rt=$1 java=$2 work=$3
	if [ ! -d /var/runtime ] || [ ! -d /var/task ]; then
		mount -t tmpfs -o size=1m,mode=0755 lamina-cds /var
		mkdir /var/runtime /var/task
	fi
	mount --bind "$rt" /var/runtime
	mount --bind "$work/task/root" /var/task
	dump() {
		"$java" -Xshare:dump -XX:+UseG1GC -Xmx128m -XX:SharedClassListFile="$1" \
			-XX:SharedArchiveFile=/var/runtime/lamina.jsa.tmp \
			-cp /var/runtime/lamina-runtime.jar
	}
	dump "$work/classlist"
	"$java" -Xshare:on -XX:SharedArchiveFile=/var/runtime/lamina.jsa.tmp -XX:+UseG1GC \
		-XX:DumpLoadedClassList="$work/classlist2" \
		-cp /var/runtime/lamina-runtime.jar lamina.runtime.Bootstrap --train lamina.train.Task::handleRequest
	# Both lists, in order, each line once (the class itself is left out).
	awk "!seen[\$0]++ && !/^lamina\/train\//" "$work/classlist" "$work/classlist2" >"$work/classlist.all"
	dump "$work/classlist.all"
' sh "$rt" "$java" "$work" >"$work/cds.log" 2>&1; then
	rm -f "$rt/lamina.jsa.tmp" "$rt/lamina.jsa"
	echo "  (no CDS archive for java17: the dump failed, see $work/cds.log)" >&2
	tail -n 5 "$work/cds.log" >&2
	exit 0
fi
chmod 0644 "$rt/lamina.jsa.tmp"
mv "$rt/lamina.jsa.tmp" "$rt/lamina.jsa"
