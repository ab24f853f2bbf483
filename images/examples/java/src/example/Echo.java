package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Example java17 function: echoes its event and the Lambda context it ran with.
 *
 * <p>Handlers: {@code example.Echo::handleRequest} takes the event as a {@code Map};
 * {@code example.Echo::text} takes it as a {@code String} (the event's JSON text);
 * {@code example.Typed} is a RequestHandler with a typed input. An event with an
 * {@code "error"} property makes them throw {@link ExampleError} with that message.
 */
public class Echo {
    // Static and constructor code run once per instance (the init phase).
    private static final String INSTANCE = Long.toHexString(System.nanoTime());
    private int invocations;

    public Echo() {
        System.out.println("init: java example loaded");
    }

    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        invocations++;
        context.getLogger().log("handling request " + context.getAwsRequestId() + "\n");
        if (event != null && event.containsKey("error")) {
            throw new ExampleError(String.valueOf(event.get("error")));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event", event);
        out.put("context", contextFields(context));
        out.put("instance", INSTANCE);
        out.put("invocations", invocations);
        return out;
    }

    public Map<String, Object> text(String event, Context context) {
        invocations++;
        if (event.contains("\"error\"")) {
            throw new ExampleError("text handler refused: " + event);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("text", event);
        out.put("length", event.length());
        out.put("context", contextFields(context));
        return out;
    }

    static Map<String, Object> contextFields(Context context) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("functionName", context.getFunctionName());
        c.put("functionVersion", context.getFunctionVersion());
        c.put("invokedFunctionArn", context.getInvokedFunctionArn());
        c.put("memoryLimitInMB", context.getMemoryLimitInMB());
        c.put("awsRequestId", context.getAwsRequestId());
        c.put("logGroupName", context.getLogGroupName());
        c.put("logStreamName", context.getLogStreamName());
        c.put("remainingTimeInMillis", context.getRemainingTimeInMillis());
        return c;
    }
}
