# SPDX-License-Identifier: MIT
"""How the java17 runtime loads a function's code: a class loader of the function's own
(class path /var/task, /var/task/lib/*.jar, /var/task/*.jar, /opt/java/lib/*.jar, jars
sorted by name; the runtime's Context winning over a bundled copy; the runtime's own
classes hidden), and string concatenation compiled by javac's default (invokedynamic)
rewritten as the class loads, giving the very strings a plain JVM gives.

Build first: `make build/bin/laminad lang-runtimes` (with BUILD=… for another build dir).
"""
import json
import re
import subprocess
from pathlib import Path

import pytest

from laminad_harness import REPO, make_code_dir

JAVA_RUNTIME_JAR = REPO / "images" / "runtimes" / "java17" / "lamina-runtime.jar"
JDK_BIN = next(iter(sorted(Path("/usr/lib/jvm").glob("java-17-openjdk-*/bin"))), None)


def jdk(tool):
    if not JDK_BIN or not (JDK_BIN / tool).exists() or not JAVA_RUNTIME_JAR.exists():
        pytest.fail(f"the JDK 17 {tool} or the java17 runtime jar is missing (make lang-runtimes)",
                    pytrace=False)
    return str(JDK_BIN / tool)


def javac(root, sources, out, classpath=(), options=()):
    """Compiles {relative path: source} with JDK 17's javac, its defaults (invokedynamic
    string concatenation) unless options say otherwise, into the directory out."""
    src = make_code_dir(root, sources)
    out.mkdir(parents=True, exist_ok=True)
    cp = ":".join([str(JAVA_RUNTIME_JAR), *map(str, classpath)])
    subprocess.run([jdk("javac"), "-nowarn", *options, "-cp", cp, "-d", str(out),
                    *[str(src / rel) for rel in sources]], check=True, timeout=180)


def jar(path, classes, manifest=None, release17=None):
    """A jar of the classes directory; release17: classes for META-INF/versions/17 (a
    multi-release jar)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [jdk("jar"), "--create", "--file", str(path)]
    if manifest:
        m = classes.parent / (path.name + ".mf")
        m.write_text(manifest)
        cmd += ["--manifest", str(m)]
    cmd += ["-C", str(classes), "."]
    if release17:
        cmd += ["--release", "17", "-C", str(release17), "."]
    subprocess.run(cmd, check=True, timeout=120)


def readable(d):
    subprocess.run(["chmod", "-R", "a+rX", str(d)], check=True)


# ---------------------------------------------------------------- string concatenation

# Every shape of `+` on strings a user writes, in classes, an interface, an enum, a
# record's class, lambdas and an anonymous class; around switches (padded instructions)
# and with more than 256 locals (wide instructions); past javac's 200-slot split.
WIDE_LOCALS = 300
LONG_INTS, LONG_LONGS = 250, 120
SHAPES = """
package concat;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

public class Shapes {
    interface Named {
        String name();

        default String greet(int n) {
            return "hello " + name() + " #" + n;
        }

        static String shout(String s) {
            return s + "!";
        }
    }

    enum Color {
        RED(1), GREEN(2);

        final String label;

        Color(int n) {
            label = name() + "=" + n;
        }
    }

    record Point(int x, String s) {}

    static final String STATIC_INIT;

    static {
        long t = 42;
        STATIC_INIT = " static " + t + " " + 'c';
    }

    static class Boom {
        @Override
        public String toString() {
            throw new IllegalStateException("boom");
        }
    }

    public static List<String> all() {
        List<String> out = new ArrayList<>();
        boolean z = true;
        byte b = -8;
        short sh = 1234;
        char c = '\\u00e9';
        int i = Integer.MIN_VALUE;
        long l = Long.MIN_VALUE;
        float f = Float.MIN_VALUE;
        double d = -0.0;
        out.add("z=" + z + " b=" + b + " s=" + sh + " c=" + c + " i=" + i + " l=" + l + " f=" + f + " d=" + d);
        float nan = Float.NaN;
        double inf = Double.POSITIVE_INFINITY, big = 1e300;
        char nul = 0;
        out.add("" + nan + inf + big + (f * 1e38f) + nul);
        String ns = null;
        Object no = null;
        Integer boxed = 7;
        out.add(ns + "|" + no + "|" + boxed + "|" + new Point(1, "p"));
        out.add("\\u0001tag\\u0002" + i + "\\u0001" + ns + "\\u0002");
        out.add("h\\u00e9llo \\u2713 \\ud83d\\ude00 " + c + " \\\\ \\" \\n\\t" + d);
        char[] chars = {'a', 'b'};
        out.add(String.valueOf(("" + chars).startsWith("[C@")));
        StringBuilder sbuf = new StringBuilder("a");
        out.add("" + sbuf + sbuf.append("x"));
        int k = 0;
        out.add(k++ + "," + k++ + "," + (k += 10) + "," + k);
        String acc = "";
        for (int n = 0; n < 3; n++) {
            acc += n;
            acc += ';';
        }
        out.add(acc);
        Named named = () -> "lambda";
        out.add(named.greet(3) + Named.shout("s"));
        Supplier<String> sup = () -> "in lambda " + z + l;
        out.add(sup.get());
        out.add(new Object() {
            @Override
            public String toString() {
                return "anon " + b + sh;
            }
        }.toString());
        out.add(Color.GREEN.label + STATIC_INIT);
        out.add(switches(3) + switches(1000) + switches(-5) + strings("two") + strings("zzz"));
        out.add(wide());
        out.add(longSite());
        try {
            out.add("never " + new Boom());
        } catch (IllegalStateException e) {
            out.add("caught " + e.getMessage());
        }
        return out;
    }

    static String switches(int n) {
        String r;
        switch (n) {
            case 1: r = "one"; break;
            case 2: r = "two"; break;
            case 3: r = "three"; break;
            case 4: r = "four"; break;
            default: r = "many"; break;
        }
        switch (n) {
            case -5: r += "/neg"; break;
            case 1000: r += "/k"; break;
            case 2000000: r += "/M"; break;
            default: break;
        }
        return "[" + n + ":" + r + "]";
    }

    static String strings(String s) {
        int v;
        switch (s) {
            case "one": v = 1; break;
            case "two": v = 2; break;
            default: v = -1; break;
        }
        return "<" + s + "=" + v + ">";
    }

    static String wide() {
@WIDE_DECLS@
        v@LAST@ += 1000;
        return "wide " + v0 + " " + v@LAST@ + " " + v200;
    }

    static String longSite() {
        int a = 1;
        long m = 2L;
        return "" + @LONG_SITE@;
    }
}
"""

HANDLER = """
package concat;

import com.amazonaws.services.lambda.runtime.Context;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

public class Handler {
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("strings", Shapes.all());
        // Which classes carry the rewrite's methods (private static synthetic).
        TreeSet<String> rewritten = new TreeSet<>();
        for (Class<?> c : new Class<?>[] {Shapes.class, Shapes.Named.class, Shapes.Color.class,
                Shapes.Point.class, Handler.class}) {
            for (Method m : c.getDeclaredMethods()) {
                int mod = m.getModifiers();
                if (m.getName().startsWith("lamina$concat$") && m.isSynthetic() && Modifier.isPrivate(mod)
                        && Modifier.isStatic(mod)) {
                    rewritten.add(c.getSimpleName());
                }
            }
        }
        out.put("rewritten", rewritten);
        return out;
    }
}
"""

# The same strings from a plain JVM, where the JDK's StringConcatFactory links them.
MAIN = """
package concat;

public class Main {
    public static void main(String[] args) {
        StringBuilder sb = new StringBuilder("[");
        for (String s : Shapes.all()) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append('"');
            for (char ch : s.toCharArray()) {
                if (ch == '"' || ch == '\\\\') {
                    sb.append('\\\\').append(ch);
                } else if (ch < 0x20 || ch > 0x7e) {
                    sb.append(String.format("\\\\u%04x", (int) ch));
                } else {
                    sb.append(ch);
                }
            }
            sb.append('"');
        }
        System.out.println(sb.append(']'));
    }
}
"""


def shapes_source():
    decls = "\n".join(f"        int v{n} = {n};" for n in range(WIDE_LOCALS))
    site = " + ".join(["a"] * LONG_INTS + ['"|"'] + ["m"] * LONG_LONGS)
    return (SHAPES.replace("@WIDE_DECLS@", decls).replace("@LAST@", str(WIDE_LOCALS - 1))
            .replace("@LONG_SITE@", site))


@pytest.mark.parametrize("options, factory", [
    ((), "makeConcatWithConstants"),  # javac's default: constants in a recipe
    (("-XDstringConcat=indy",), "makeConcat"),  # every piece an argument, no recipe
])
def test_java_string_concatenation_gives_the_plain_jvms_strings(fns, client, workdir, options, factory):
    """Classes compiled with javac's defaults concatenate through invokedynamic; the
    runtime rewrites those call sites as each class loads (no ~13 ms of linking at a cold
    start). Every shape gives exactly the string a plain JVM gives, exceptions from
    toString propagate, and the call sites really were rewritten."""
    code = workdir / "concat-code"
    javac(workdir, {"concat/Shapes.java": shapes_source(), "concat/Handler.java": HANDLER,
                    "concat/Main.java": MAIN}, code, options=options)
    javap = subprocess.run([jdk("javap"), "-v", "-c", "-p", "-cp", str(code), "concat.Shapes"],
                           capture_output=True, text=True, check=True, timeout=120).stdout
    bootstraps = set(re.findall(r"java/lang/invoke/StringConcatFactory\.(\w+):", javap))
    assert bootstraps == {factory}, f"javac linked {bootstraps}, not {factory}: nothing is tested"
    assert "wide" in javap and "tableswitch" in javap and "lookupswitch" in javap, javap[:2000]
    plain = subprocess.run([jdk("java"), "-Xshare:auto", "-cp", f"{JAVA_RUNTIME_JAR}:{code}", "concat.Main"],
                           capture_output=True, text=True, check=True, timeout=120)
    expected = json.loads(plain.stdout)
    assert expected[-1] == "caught boom" and len(expected) == 17, expected

    readable(code)
    name = fns.create(code_dir=code, runtime="java17", handler="concat.Handler", memory=256, timeout=10)
    for cold in (True, False):
        r = client.invoke(name, {}, timeout=30)
        assert "FunctionError" not in r, r
        assert ("InitDurationMs" in r["Report"]) == cold, r
        got = r["Payload"]["strings"]
        for i, (g, e) in enumerate(zip(got, expected)):
            assert g == e, f"string {i}: lamina {g!r}, plain JVM {e!r}"
        assert len(got) == len(expected), (got, expected)
    # The classes with concatenations, and only those (a record's toString is another
    # invokedynamic, left alone).
    assert r["Payload"]["rewritten"] == ["Color", "Named", "Shapes"], r["Payload"]


# ---------------------------------------------------------------- class path and loader

CLASSPATH_HANDLER = """
package app;

import com.amazonaws.services.lambda.runtime.Context;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

public class Handler {
    static String where(Class<?> c) {
        return c.getProtectionDomain().getCodeSource().getLocation().toString();
    }

    static String read(InputStream in) throws Exception {
        try (in) {
            return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        }
    }

    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        ClassLoader mine = Handler.class.getClassLoader();
        out.put("handler", where(Handler.class));
        out.put("helper", lib.Helper.which() + " from " + where(lib.Helper.class));
        out.put("version", lib.Helper.class.getPackage().getImplementationVersion());
        out.put("rootJar", root.Only.name() + " from " + where(root.Only.class));
        out.put("layer", layer.Util.say(context.getFunctionName().length()) + " from " + where(layer.Util.class));
        out.put("resource", read(mine.getResourceAsStream("config/app.properties")));
        java.net.URL url = mine.getResource("config/app.properties");
        out.put("resourceUrl", url + " " + read(url.openStream()));
        java.util.List<String> all = new java.util.ArrayList<>();
        for (java.util.Enumeration<java.net.URL> e = mine.getResources("shared.txt"); e.hasMoreElements();) {
            java.net.URL u = e.nextElement();
            all.add(u + " " + read(u.openStream()));
        }
        out.put("allShared", all);
        out.put("spaced", read(mine.getResourceAsStream("dir with space/é.txt")) + " "
                + mine.getResource("dir with space/é.txt"));
        out.put("layerResource", read(Thread.currentThread().getContextClassLoader()
                .getResourceAsStream("layer.txt")));
        out.put("escape", String.valueOf(mine.getResource("../task/app/Handler.class"))
                + " " + mine.getResourceAsStream("app/../../task/app/Handler.class"));
        out.put("jdkResource", String.valueOf(mine.getResource("java/lang/Object.class")));
        out.put("contextLoader", Thread.currentThread().getContextClassLoader() == mine);
        out.put("contextIsTheRuntimes", Context.class.getClassLoader() != mine);
        try {
            Class.forName("lamina.runtime.Bootstrap", false, mine);
            out.put("runtimeInternals", "visible");
        } catch (ClassNotFoundException e) {
            out.put("runtimeInternals", "hidden");
        }
        out.put("byName", Class.forName("lib.Helper").getName());
        out.put("jdkCompiler", Class.forName("com.sun.source.tree.Tree").getModule().getName());
        return out;
    }
}
"""


def test_java_class_path_layers_and_the_functions_own_loader(fns, client, workdir):
    """The function's classes load from /var/task, then its lib/ jars (sorted: a-helper
    before b-helper), then its root jars, then layers' java/lib jars, with their code
    sources, manifests, resources and multi-release versions; the context class loader is the function's; a
    bundled copy of Context does not replace the runtime's; the runtime's classes are not
    visible to the function, the JDK's modules are (also those of the application
    class loader)."""
    b = workdir / "cp-build"
    b.mkdir()
    javac(b, {"lib/Helper.java": "package lib;\npublic class Helper {\n"
                                 "    public static String which() { return \"a-helper \" + 1; }\n}\n"}, b / "a")
    (b / "a" / "config").mkdir()
    (b / "a" / "config" / "app.properties").write_text("greeting=from the a-helper jar\n")
    (b / "a" / "shared.txt").write_text("a-helper\n")
    (b / "a" / "dir with space").mkdir()
    (b / "a" / "dir with space" / "é.txt").write_text("spaced\n")
    javac(b, {"lib/Helper.java": "package lib;\npublic class Helper {\n"
                                 "    public static String which() { return \"b-helper\"; }\n}\n"}, b / "b")
    (b / "b" / "shared.txt").write_text("b-helper\n")
    only = "package root;\npublic class Only {\n    public static String name() { return \"only in a root jar, %s\"; }\n}\n"
    javac(b, {"root/Only.java": only % "base"}, b / "root")
    javac(b, {"root/Only.java": only % "release 17"}, b / "root17")
    javac(b, {"layer/Util.java": "package layer;\npublic class Util {\n"
                                 "    public static String say(int n) { return \"layer \" + n + '!'; }\n}\n"},
          b / "layer")
    # A copy of the Context interface, as a fat jar bundling aws-lambda-java-core would
    # carry (here a different one: if it won, the handler's signature would not match).
    javac(b, {"com/amazonaws/services/lambda/runtime/Context.java":
              "package com.amazonaws.services.lambda.runtime;\npublic interface Context {\n"
              "    String bogus();\n}\n"}, b / "fake")
    javac(b, {"app/Handler.java": CLASSPATH_HANDLER}, b / "app",
          classpath=[b / "a", b / "root", b / "layer"])

    code = workdir / "cp-code"
    (code / "app").mkdir(parents=True)
    (b / "app" / "app" / "Handler.class").rename(code / "app" / "Handler.class")
    (code / "shared.txt").write_text("classes directory\n")
    jar(code / "lib" / "a-helper.jar", b / "a",
        manifest="Manifest-Version: 1.0\nImplementation-Version: 1.2.3\n")
    jar(code / "lib" / "b-helper.jar", b / "b")
    jar(code / "lib" / "0-core.jar", b / "fake")
    jar(code / "zz-root.jar", b / "root", release17=b / "root17")
    layer_dir = workdir / "cp-layer"
    (b / "layer" / "layer.txt").write_text("from the layer\n")
    jar(layer_dir / "java" / "lib" / "util.jar", b / "layer")
    readable(code)
    readable(layer_dir)
    layer = client.ok("PublishLayerVersion", LayerName=fns.name("javalayer"),
                      Content={"Directory": str(layer_dir)})

    name = fns.create(code_dir=code, runtime="java17", handler="app.Handler::handleRequest", memory=256,
                      timeout=10, Layers=[layer["LayerVersionArn"]])
    r = client.invoke(name, {}, timeout=30)
    assert "FunctionError" not in r, r
    p = r["Payload"]
    assert p["handler"] == "file:/var/task/", p
    assert p["helper"] == "a-helper 1 from file:/var/task/lib/a-helper.jar", p
    assert p["version"] == "1.2.3", p
    # A multi-release jar gives the JVM's release.
    assert p["rootJar"] == "only in a root jar, release 17 from file:/var/task/zz-root.jar", p
    assert p["layer"] == f"layer {len(name)}! from file:/opt/java/lib/util.jar", p
    assert p["resource"] == "greeting=from the a-helper jar", p
    # Resources: the URLs the JDK's class path gives, in class path order, readable.
    assert p["resourceUrl"] == ("jar:file:/var/task/lib/a-helper.jar!/config/app.properties "
                                "greeting=from the a-helper jar"), p
    assert p["allShared"] == ["file:/var/task/shared.txt classes directory",
                              "jar:file:/var/task/lib/a-helper.jar!/shared.txt a-helper",
                              "jar:file:/var/task/lib/b-helper.jar!/shared.txt b-helper"], p
    assert p["spaced"] == "spaced jar:file:/var/task/lib/a-helper.jar!/dir%20with%20space/%C3%A9.txt", p
    assert p["layerResource"] == "from the layer", p
    assert p["escape"] == "null null", p  # no way out of a class path entry
    assert p["jdkResource"].startswith("jrt:/java.base/java/lang/Object.class"), p
    assert p["contextLoader"] is True and p["contextIsTheRuntimes"] is True, p
    assert p["runtimeInternals"] == "hidden", p
    assert p["byName"] == "lib.Helper", p
    assert p["jdkCompiler"] == "jdk.compiler", p  # a JDK module of the application loader


@pytest.mark.parametrize("content", [
    b"not a class file at all",
    # A class file's header, then a constant pool cut short.
    bytes.fromhex("cafebabe0000003d0040") + b"\x01\x00\x05short",
])
def test_java_malformed_class_is_an_init_error(fns, client, workdir, content):
    """A class file the JVM cannot read is the JVM's own ClassFormatError at init,
    whatever the load-time rewrite makes of it."""
    code = make_code_dir(workdir, {"bad/Handler.class": content})
    name = fns.create(code_dir=code, runtime="java17", handler="bad.Handler::handleRequest", memory=256,
                      timeout=10)
    r = client.invoke(name, {}, timeout=30)
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "java.lang.ClassFormatError", r
