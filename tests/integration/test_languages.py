# SPDX-License-Identifier: MIT
"""Each language runtime the host provides starts inside a sandbox, with the seccomp filter
on, and runs single- and multi-threaded code."""
import shutil
import subprocess
import textwrap

import pytest

JAVA_MEMORY = ("--memory", "512")

PY_THREADS = textwrap.dedent("""
    import threading
    results = []
    lock = threading.Lock()
    def work(i):
        with lock:
            results.append(i * 2)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 9)]
    for t in threads: t.start()
    for t in threads: t.join()
    seccomp = [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")][0]
    print(f"threads={len(threads)} sum={sum(results)} seccomp={seccomp}")
""")

NODE_WORKERS = textwrap.dedent("""
    const { Worker } = require("worker_threads");
    const fs = require("fs");
    const seccomp = fs.readFileSync("/proc/self/status", "utf8").match(/^Seccomp:\\s+(\\d+)/m)[1];
    const n = 4;
    let done = 0, sum = 0;
    for (let i = 1; i <= n; i++) {
      const w = new Worker(
        "const { parentPort, workerData } = require('worker_threads'); parentPort.postMessage(workerData * 2);",
        { eval: true, workerData: i });
      w.on("message", (m) => { sum += m; if (++done === n) console.log(`workers=${n} sum=${sum} seccomp=${seccomp}`); });
      w.on("error", (e) => { console.error(e); process.exit(1); });
    }
""")

JAVA_HELLO = """
public class Hello {
    public static void main(String[] args) {
        System.out.println("hello");
    }
}
"""

JAVA_THREADS = """
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.concurrent.atomic.AtomicLong;

public class Threads {
    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        AtomicLong sum = new AtomicLong();
        Thread[] threads = new Thread[n];
        for (int i = 0; i < n; i++) {
            final long v = i + 1;
            threads[i] = new Thread(() -> sum.addAndGet(v * 2));
            threads[i].start();
        }
        for (Thread t : threads) t.join();
        String seccomp = Files.readAllLines(Paths.get("/proc/self/status")).stream()
            .filter(l -> l.startsWith("Seccomp:")).findFirst().get().split("\\\\s+")[1];
        System.out.println("threads=" + n + " sum=" + sum.get() + " seccomp=" + seccomp);
    }
}
"""


def need(tool):
    path = shutil.which(tool, path="/usr/bin")
    if not path:
        pytest.skip(f"{tool} is not installed on this host")
    return path


@pytest.fixture
def java_code(tracker, code_dir):
    """Hello.class and Threads.class, compiled on the host into the code dir."""
    need("java")
    javac = need("javac")
    src = tracker.mkdtemp("java-src")
    (src / "Hello.java").write_text(JAVA_HELLO)
    (src / "Threads.java").write_text(JAVA_THREADS)
    subprocess.run([javac, "-d", str(code_dir), str(src / "Hello.java"), str(src / "Threads.java")],
                   check=True, timeout=120)
    for cls in code_dir.glob("*.class"):
        cls.chmod(0o644)
    return code_dir


def test_python_runs_hello_world(lamina):
    need("python3")
    r = lamina.run(["python3", "-c", 'print("hello")'])
    assert r.returncode == 0, str(r)
    assert r.stdout == "hello\n", str(r)


def test_python_runs_threads_under_seccomp(lamina):
    need("python3")
    r = lamina.run(["python3", "-c", PY_THREADS])
    assert r.returncode == 0, str(r)
    assert r.stdout == "threads=8 sum=72 seccomp=2\n", str(r)


def test_node_runs_hello_world(lamina):
    need("node")
    r = lamina.run(["node", "-e", 'console.log("hello")'])
    assert r.returncode == 0, str(r)
    assert r.stdout == "hello\n", str(r)


def test_node_runs_worker_threads_under_seccomp(lamina):
    need("node")
    r = lamina.run(["node", "-e", NODE_WORKERS])
    assert r.returncode == 0, str(r)
    assert r.stdout == "workers=4 sum=20 seccomp=2\n", str(r)


def test_java_runs_hello_world(lamina, java_code):
    r = lamina.run(["java", "-cp", "/var/task", "Hello"], *JAVA_MEMORY)
    assert r.returncode == 0, str(r)
    assert r.stdout == "hello\n", str(r)


def test_java_runs_threads_under_seccomp(lamina, java_code):
    r = lamina.run(["java", "-cp", "/var/task", "Threads", "8"], *JAVA_MEMORY)
    assert r.returncode == 0, str(r)
    assert r.stdout == "threads=8 sum=72 seccomp=2\n", str(r)


def test_static_c_program_runs_pthreads(lamina):
    r = lamina.probe("threads", 8)
    assert r.returncode == 0, str(r)
    assert r.line("threads:") == "threads: started=8 joined=8 errno=none", str(r)
