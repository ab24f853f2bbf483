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
 * concatenation (invokedynamic) and uses lambdas and streams, as user code does. It is
 * loaded from the runtime's jar, not through {@link FunctionClassLoader}, so its
 * concatenations stay invokedynamic: the archive also holds what linking those needs, for
 * code that other class loaders load. (The build's second training run loads a handler
 * as user code is loaded.)
 */
public final class Sample implements RequestHandler<Map<String, Object>, Object> {
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
