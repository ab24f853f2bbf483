package lamina.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
     */
    public static final class Primer extends Thread {
        public Primer() {
            super("lamina-primer");
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                prime();
            } catch (Throwable ignored) {
                // a warm-up only
            }
        }
    }

    static volatile Object sink;

    static void prime() {
        String s = String.valueOf(System.nanoTime());
        int i = s.length();
        Object o = Integer.valueOf(i);
        // The first `+` links the string-concatenation machinery (~6 ms); each further
        // shape of arguments costs ~3 ms more, so only the commonest, (String), is done.
        sink = "a" + s + "b";
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(s, o);
        m.forEach((k, v) -> sink = k);
        List<Integer> list = List.of(1, 2, 3);
        sink = list.stream().map(x -> x * 2).filter(x -> x > 2).collect(Collectors.toList());
        Runnable r = () -> sink = s;
        r.run();
        sink = Json.write(Json.parse("{\"s\":\"h\\u00e9\",\"n\":[1,2.5,-3,null,true,false,12345678901234],\"o\":{}}"));
        sink = Bootstrap.error(new IllegalStateException("primer", new RuntimeException("cause")));
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
