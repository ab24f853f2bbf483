package lamina.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * Handlers of each common shape, for the build's training run (Bootstrap --train). Unlike
 * the rest of the runtime, this file is compiled with javac's default string
 * concatenation (invokedynamic) and uses lambdas and streams, as user code does, so that
 * the archive holds what linking those call sites needs.
 */
public final class Sample implements RequestHandler<Map<String, Object>, Object> {
    /**
     * Run at every instance's start, on a thread of its own while the handler loads: links
     * the JDK machinery that user code's first string concatenation, lambda and stream
     * would otherwise link during the first invocation (~20 ms, all of it against the
     * function's CPU share at 128 MB), and warms the runtime's own per-event path.
     *
     * <p>The warm-up is a list of independent steps that the primer and the main thread
     * both take from, main once it has loaded the handler ({@link #help}): the string
     * concatenation, the longest (~13 ms here), goes first on the primer; main, idle until the
     * primer is done otherwise, takes the next ones. Init ends a few ms sooner on two
     * CPUs, and no later on one.
     */
    public static final class Primer extends Thread {
        private final AtomicInteger next = new AtomicInteger();

        public Primer() {
            super("lamina-primer");
            setDaemon(true);
        }

        @Override
        public void run() {
            help();
        }

        /** Runs the steps no thread has taken yet, then returns. */
        public void help() {
            int i;
            while ((i = next.getAndIncrement()) < STEPS) {
                try {
                    step(i);
                } catch (Throwable ignored) {
                    // a warm-up only
                }
            }
        }
    }

    static volatile Object sink;

    private static final int STEPS = 4;

    /**
     * The warm-up's steps, by index. The first use of invokedynamic initialises the JDK's
     * method-handle machinery, which the primer's step 0 does: a step linking a lambda on
     * main meanwhile would only wait for it. So main's first steps (1-2) use none. The
     * last links lambdas and runs a stream with them, which loads the stream classes too;
     * an extra stream step without lambdas on main made init ~1 ms longer, not shorter
     * (A/B on this 2-CPU host, 14 cold starts each way).
     */
    private static void step(int i) {
        String s = String.valueOf(System.nanoTime());
        switch (i) {
            case 0:
                // The first `+` links the string-concatenation machinery (~13 ms with the
                // method-handle machinery's own start); each further shape of arguments
                // costs ~3 ms more, so only the commonest, (String), is done.
                sink = "a" + s + "b";
                break;
            case 1:
                sink = Json.write(Json.parse("{\"s\":\"h\\u00e9\",\"n\":[1,2.5,-3,null,true,false,12345678901234],\"o\":{}}"));
                break;
            case 2:
                sink = Bootstrap.error(new IllegalStateException("primer", new RuntimeException("cause")));
                break;
            default: {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put(s, Integer.valueOf(s.length()));
                m.forEach((k, v) -> sink = k);
                Runnable r = () -> sink = s;
                r.run();
                List<Integer> list = List.of(1, 2, 3);
                sink = list.stream().map(x -> x * 2).filter(x -> x > 2).collect(Collectors.toList());
                break;
            }
        }
    }

    public static final class Event {
        public String name;
        private List<Object> n;

        public List<Object> getN() {
            return n;
        }

        public void setN(List<Object> n) {
            this.n = n;
        }
    }

    public Map<String, Object> map(Map<String, Object> event, Context context) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event", event);
        out.put("requestId", context.getAwsRequestId());
        out.put("left", context.getRemainingTimeInMillis());
        out.put("memory", context.getMemoryLimitInMB());
        context.getLogger().log("handling request " + context.getAwsRequestId() + "\n");
        out.put("keys", event.keySet().stream().map(k -> k + "!").collect(Collectors.toList()));
        out.put("n", "n=" + event.size() + " left=" + (long) context.getRemainingTimeInMillis());
        event.forEach((k, v) -> out.putIfAbsent(k, v));
        return out;
    }

    public String string(String event, Context context) {
        System.out.println("event " + event);
        return event;
    }

    public Event pojo(Event event) {
        return event;
    }

    public void stream(java.io.InputStream in, java.io.OutputStream out, Context context) throws IOException {
        out.write(in.readAllBytes());
    }

    public Object fail(Map<String, Object> event, Context context) {
        throw new IllegalStateException("training failure", new RuntimeException("cause"));
    }

    @Override
    public Object handleRequest(Map<String, Object> event, Context context) {
        return List.of(event.size(), 1.5, "s", true);
    }
}
