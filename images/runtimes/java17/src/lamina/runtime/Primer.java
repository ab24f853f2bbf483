package lamina.runtime;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * Run at every instance's start, on a thread of its own while the handler loads: links
 * the JDK machinery that user code's first lambda and stream would otherwise link during
 * the first invocation (~10 ms, all of it against the function's CPU share at 128 MB), and
 * warms the runtime's own per-event path. (User code's string concatenation needs no
 * warming: {@link ConcatRewriter} takes it off invokedynamic.)
 *
 * <p>The warm-up is a list of independent steps that the primer and the main thread
 * both take from, main once it has loaded the handler ({@link #help}): the lambdas, the
 * longest, go first on the primer; main, idle until the primer is done otherwise, takes
 * the next ones. Init ends a few ms sooner on two CPUs, and no later on one.
 */
final class Primer extends Thread {
    private static final int STEPS = 3;

    static volatile Object sink;

    private final AtomicInteger next = new AtomicInteger();

    Primer() {
        super("lamina-primer");
        setDaemon(true);
    }

    @Override
    public void run() {
        help();
    }

    /** Runs the steps no thread has taken yet, then returns. */
    void help() {
        int i;
        while ((i = next.getAndIncrement()) < STEPS) {
            try {
                step(i);
            } catch (Throwable ignored) {
                // a warm-up only
            }
        }
    }

    /**
     * The steps, by index. The first links lambdas and runs a stream with them, which
     * initialises the JDK's method-handle machinery (all invokedynamic needs it) and loads
     * the stream classes; a separate stream step without lambdas made init ~1 ms longer,
     * not shorter (A/B on this 2-CPU host, 14 cold starts each way). The others use no
     * invokedynamic: on main they would otherwise wait for the first one's class
     * initialisations.
     */
    private static void step(int i) {
        String s = String.valueOf(System.nanoTime());
        switch (i) {
            case 0: {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put(s, Integer.valueOf(s.length()));
                m.forEach((k, v) -> sink = k);
                Runnable r = () -> sink = s;
                r.run();
                List<Integer> list = List.of(1, 2, 3);
                sink = list.stream().map(x -> x * 2).filter(x -> x > 2).collect(Collectors.toList());
                break;
            }
            case 1:
                sink = Json.write(Json.parse("{\"s\":\"h\\u00e9\",\"n\":[1,2.5,-3,null,true,false,12345678901234],\"o\":{}}"));
                break;
            default:
                sink = Bootstrap.error(new IllegalStateException("primer", new RuntimeException("cause")));
                break;
        }
    }
}
