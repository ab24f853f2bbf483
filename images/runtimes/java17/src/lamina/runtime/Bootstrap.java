package lamina.runtime;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * lamina's java17 runtime: AWS Lambda's Java runtime semantics.
 *
 * <p>Started inside an instance by /var/runtime/bootstrap (a small C launcher that sizes
 * the JVM to the function's memory and points it at the class-data-sharing archive made
 * at build time) as {@code java ... -cp /var/runtime/lamina-runtime.jar
 * lamina.runtime.Bootstrap}. Loads the handler named by _HANDLER once (the init phase),
 * through a {@link FunctionClassLoader} over the function's code, then loops over the
 * Runtime API: GET the next event, call the handler, POST the JSON result or the error,
 * as {@code {"errorMessage", "errorType", "stackTrace"[, "cause"]}} with the exception's
 * class name as errorType.
 *
 * <p>{@code --train [HANDLER]} runs the same code paths against canned Runtime API
 * responses instead, for the runtime's sample handlers and HANDLER (the build records the
 * classes it loads for the class-data-sharing archive).
 */
public final class Bootstrap {
    private Bootstrap() {}

    private static final String FUNCTION_NAME = System.getenv("AWS_LAMBDA_FUNCTION_NAME");
    private static final String FUNCTION_VERSION = System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
    private static final String LOG_GROUP = System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
    private static final String LOG_STREAM = System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
    private static final int MEMORY = memory();
    private static final String JSON_HEADER = "Content-Type: application/json\r\n";

    private static int memory() {
        try {
            return Integer.parseInt(System.getenv().getOrDefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"));
        } catch (NumberFormatException e) {
            return 128;
        }
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("--train")) {
            Training.run(args.length > 1 ? args[1] : null);
            return;
        }
        Primer primer = new Primer();
        primer.start();
        RuntimeApi api;
        try {
            api = RuntimeApi.fromEnvironment();
        } catch (IOException e) {
            System.err.println("lamina bootstrap: " + e.getMessage());
            System.err.flush();
            Runtime.getRuntime().halt(2);
            return;
        }
        Handler handler;
        try {
            // The function's code has a loader of its own, the context class loader of
            // main and of the threads it starts, as on Lambda.
            ClassLoader loader = FunctionClassLoader.forInstance(Bootstrap.class.getClassLoader());
            Thread.currentThread().setContextClassLoader(loader);
            handler = Handler.load(System.getenv("_HANDLER"), loader);
        } catch (Throwable t) {
            Map<String, Object> err = t instanceof Handler.Fault
                    ? error(((Handler.Fault) t).type, t.getMessage(), t.getCause())
                    : error(t);
            logError(t, err);
            try {
                postError(api, RuntimeApi.PREFIX + "/init/error", err, "Unhandled");
            } catch (IOException ignored) {
                // the daemon is gone
            }
            System.out.flush();
            Runtime.getRuntime().halt(1);
            return;
        }
        // Init ends with the warm-up done: once events flow the CPU share applies, and the
        // warm-up's work would be taken from the first invocation's. Main takes the steps
        // the primer has not begun.
        primer.help();
        try {
            primer.join(200);
        } catch (InterruptedException ignored) {
            // go on
        }
        int rc = loop(api, handler);
        System.out.flush();
        System.err.flush();
        // The connection is gone: the daemon is done with this instance. As on Lambda,
        // where the instance is simply killed, shutdown hooks do not run.
        Runtime.getRuntime().halt(rc);
    }

    /** Serves events until the connection closes; the process's exit status. */
    static int loop(RuntimeApi api, Handler handler) {
        String next = RuntimeApi.PREFIX + "/invocation/next";
        for (;;) {
            RuntimeApi.Response r;
            try {
                r = api.request("GET", next, null, null);
            } catch (IOException e) {
                return 0;
            }
            if (r.status != 200) {
                System.err.println("lamina bootstrap: " + next + " returned " + r.status + ": "
                        + new String(r.body, 0, Math.min(r.body.length, 200), StandardCharsets.UTF_8));
                return 1;
            }
            try {
                invoke(api, handler, r);
            } catch (IOException e) {
                return 0;
            }
        }
    }

    static void invoke(RuntimeApi api, Handler handler, RuntimeApi.Response r) throws IOException {
        String requestId = orEmpty(r.header("lambda-runtime-aws-request-id"));
        String base = RuntimeApi.PREFIX + "/invocation/" + requestId;
        long deadline;
        try {
            deadline = Long.parseLong(orEmpty(r.header("lambda-runtime-deadline-ms")));
        } catch (NumberFormatException e) {
            deadline = 0;
        }
        String trace = r.header("lambda-runtime-trace-id");
        if (trace != null) {
            System.setProperty("com.amazonaws.xray.traceHeader", trace);
        } else {
            System.clearProperty("com.amazonaws.xray.traceHeader");
        }
        LambdaContext ctx;
        try {
            ctx = new LambdaContext(requestId, deadline, r.header("lambda-runtime-invoked-function-arn"),
                    r.header("lambda-runtime-client-context"), r.header("lambda-runtime-cognito-identity"));
        } catch (Json.JsonException e) {
            Map<String, Object> err = error("Runtime.UnmarshalError",
                    "Unable to parse the client context or identity: " + e.getMessage(), null);
            logError(e, err);
            postError(api, base + "/error", err, "Unhandled");
            return;
        }
        byte[] out;
        try {
            out = handler.invoke(r.body, ctx);
        } catch (Handler.UnmarshalError | Handler.MarshalError e) {
            String type = e instanceof Handler.UnmarshalError ? "Runtime.UnmarshalError" : "Runtime.MarshalError";
            Map<String, Object> err = error(type, e.getMessage(), null);
            logError(e, err);
            postError(api, base + "/error", err, "Unhandled");
            return;
        } catch (Throwable t) {
            Map<String, Object> err = error(t);
            logError(t, err);
            postError(api, base + "/error", err, "Unhandled");
            return;
        }
        System.out.flush();
        api.request("POST", base + "/response", out, JSON_HEADER);
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }

    // ---------------------------------------------------------------- errors

    /** Lambda's error shape for an exception: its class name, message, frames and cause. */
    static Map<String, Object> error(Throwable t) {
        Map<String, Object> err = error(t.getClass().getName(), t.getMessage(), null);
        err.put("stackTrace", frames(t));
        Throwable cause = t.getCause();
        if (cause != null && cause != t) {
            Map<String, Object> c = error(cause.getClass().getName(), cause.getMessage(), null);
            c.put("stackTrace", frames(cause));
            err.put("cause", c);
        }
        return err;
    }

    static Map<String, Object> error(String type, String message, Throwable unused) {
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("errorMessage", message == null ? "" : message);
        err.put("errorType", type);
        err.put("stackTrace", new ArrayList<String>());
        return err;
    }

    /** The frames of t down to the handler: the runtime's and reflection's frames dropped. */
    static List<String> frames(Throwable t) {
        List<String> out = new ArrayList<>();
        for (StackTraceElement e : t.getStackTrace()) {
            String c = e.getClassName();
            if (c.startsWith("lamina.runtime.") || c.startsWith("jdk.internal.reflect.")
                    || c.equals("java.lang.reflect.Method")) {
                if (!out.isEmpty()) {
                    break;
                }
                continue;
            }
            out.add(e.getClassName() + "." + e.getMethodName() + "(" + location(e) + ")");
        }
        return out;
    }

    private static String location(StackTraceElement e) {
        if (e.isNativeMethod()) {
            return "Native Method";
        }
        if (e.getFileName() == null) {
            return "Unknown Source";
        }
        return e.getLineNumber() >= 0 ? e.getFileName() + ":" + e.getLineNumber() : e.getFileName();
    }

    @SuppressWarnings("unchecked")
    static void logError(Throwable t, Map<String, Object> err) {
        StringBuilder b = new StringBuilder();
        b.append(err.get("errorType"));
        String m = (String) err.get("errorMessage");
        if (m != null && !m.isEmpty()) {
            b.append(": ").append(m);
        }
        b.append('\n');
        for (String f : (List<String>) err.get("stackTrace")) {
            b.append("\tat ").append(f).append('\n');
        }
        Object cause = err.get("cause");
        if (cause instanceof Map) {
            Map<String, Object> c = (Map<String, Object>) cause;
            b.append("Caused by: ").append(c.get("errorType")).append(": ").append(c.get("errorMessage")).append('\n');
            for (String f : (List<String>) c.get("stackTrace")) {
                b.append("\tat ").append(f).append('\n');
            }
        }
        System.out.flush();
        System.err.print(b);
        System.err.flush();
    }

    static void postError(RuntimeApi api, String path, Map<String, Object> err, String kind) throws IOException {
        System.out.flush();
        byte[] body = Json.write(err).getBytes(StandardCharsets.UTF_8);
        api.request("POST", path, body, JSON_HEADER + "Lambda-Runtime-Function-Error-Type: " + kind + "\r\n");
    }

    // ---------------------------------------------------------------- the context

    static final class LambdaContext implements Context, LambdaLogger {
        private final String requestId;
        private final long deadline;
        private final String arn;
        private final ClientContext clientContext;
        private final CognitoIdentity identity;

        LambdaContext(String requestId, long deadline, String arn, String clientContext, String identity) {
            this.requestId = requestId;
            this.deadline = deadline;
            this.arn = arn;
            this.clientContext = clientContext == null || clientContext.isEmpty() ? null
                    : new Client_(Json.parse(clientContext));
            this.identity = identity == null || identity.isEmpty() ? null : new Identity(Json.parse(identity));
        }

        @Override
        public String getAwsRequestId() {
            return requestId;
        }

        @Override
        public String getLogGroupName() {
            return LOG_GROUP;
        }

        @Override
        public String getLogStreamName() {
            return LOG_STREAM;
        }

        @Override
        public String getFunctionName() {
            return FUNCTION_NAME;
        }

        @Override
        public String getFunctionVersion() {
            return FUNCTION_VERSION;
        }

        @Override
        public String getInvokedFunctionArn() {
            return arn;
        }

        @Override
        public CognitoIdentity getIdentity() {
            return identity;
        }

        @Override
        public ClientContext getClientContext() {
            return clientContext;
        }

        @Override
        public int getRemainingTimeInMillis() {
            long left = deadline - System.currentTimeMillis();
            return left > 0 ? (int) Math.min(left, Integer.MAX_VALUE) : 0;
        }

        @Override
        public int getMemoryLimitInMB() {
            return MEMORY;
        }

        @Override
        public LambdaLogger getLogger() {
            return this;
        }

        @Override
        public void log(String message) {
            System.out.print(message);
            System.out.flush();
        }

        @Override
        public void log(byte[] message) {
            System.out.write(message, 0, message.length);
            System.out.flush();
        }

        @Override
        public String toString() {
            return "LambdaContext[awsRequestId=" + requestId + ", functionName=" + FUNCTION_NAME
                    + ", functionVersion=" + FUNCTION_VERSION + ", invokedFunctionArn=" + arn
                    + ", memoryLimitInMB=" + MEMORY + ", logGroupName=" + LOG_GROUP
                    + ", logStreamName=" + LOG_STREAM + "]";
        }
    }

    private static String str(Map<?, ?> m, String k) {
        Object v = m == null ? null : m.get(k);
        return v == null ? null : v.toString();
    }

    private static Map<String, String> strings(Object o) {
        if (!(o instanceof Map)) {
            return null;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
            out.put(String.valueOf(e.getKey()), e.getValue() == null ? null : e.getValue().toString());
        }
        return out;
    }

    private static final class Identity implements CognitoIdentity {
        private final String id;
        private final String pool;

        Identity(Object parsed) {
            Map<?, ?> m = parsed instanceof Map ? (Map<?, ?>) parsed : null;
            id = str(m, "cognitoIdentityId");
            pool = str(m, "cognitoIdentityPoolId");
        }

        @Override
        public String getIdentityId() {
            return id;
        }

        @Override
        public String getIdentityPoolId() {
            return pool;
        }
    }

    private static final class Client_ implements ClientContext, Client {
        private final Map<?, ?> client;
        private final Map<String, String> custom;
        private final Map<String, String> env;

        Client_(Object parsed) {
            Map<?, ?> m = parsed instanceof Map ? (Map<?, ?>) parsed : null;
            Object c = m == null ? null : m.get("client");
            client = c instanceof Map ? (Map<?, ?>) c : null;
            custom = strings(m == null ? null : m.get("custom"));
            env = strings(m == null ? null : m.get("env"));
        }

        @Override
        public Client getClient() {
            return client == null ? null : this;
        }

        @Override
        public Map<String, String> getCustom() {
            return custom;
        }

        @Override
        public Map<String, String> getEnvironment() {
            return env;
        }

        @Override
        public String getInstallationId() {
            return str(client, "installation_id");
        }

        @Override
        public String getAppTitle() {
            return str(client, "app_title");
        }

        @Override
        public String getAppVersionName() {
            return str(client, "app_version_name");
        }

        @Override
        public String getAppVersionCode() {
            return str(client, "app_version_code");
        }

        @Override
        public String getAppPackageName() {
            return str(client, "app_package_name");
        }
    }

    // ---------------------------------------------------------------- training

    /**
     * The build's training run: the handler shapes users write, through the real code
     * paths, against canned responses, so that the classes they need are in the
     * class-data-sharing archive; extra, when not null, is one more handler (the build's
     * second run names one in a jar in /var/task). Prints nothing.
     */
    static final class Training {
        private Training() {}

        static void run(String extra) {
            PrintStream realErr = System.err;
            PrintStream realOut = System.out;
            System.setErr(new PrintStream(OutputStream.nullOutputStream()));
            System.setOut(new PrintStream(OutputStream.nullOutputStream()));
            try {
                Thread primer = new Primer();
                primer.start();
                primer.join();
                RuntimeApi.inheritedFd(1);
                RuntimeApi.nonBlocking("1");
                ClassLoader runtime = Bootstrap.class.getClassLoader();
                ClassLoader function = FunctionClassLoader.forInstance(runtime);
                String[] handlers = {
                    "lamina.runtime.Sample::map",
                    "lamina.runtime.Sample::string",
                    "lamina.runtime.Sample::pojo",
                    "lamina.runtime.Sample::stream",
                    "lamina.runtime.Sample::fail",
                    "lamina.runtime.Sample",
                    extra,
                };
                String event = "{\"name\":\"x\",\"n\":[1,2.5,-3,null,true,false,12345678901234],"
                        + "\"o\":{\"s\":\"h\\u00e9llo \\\"q\\\" \\\\ \\n\"}}";
                for (String h : handlers) {
                    if (h == null) {
                        continue;
                    }
                    // The samples are the runtime's; extra is loaded as a function's code.
                    Handler handler = Handler.load(h, h.equals(extra) ? function : runtime);
                    ByteArrayOutputStream canned = new ByteArrayOutputStream();
                    for (int i = 0; i < 2; i++) {
                        byte[] body = event.getBytes(StandardCharsets.UTF_8);
                        canned.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                + "Lambda-Runtime-Aws-Request-Id: 8d2b2f8e-0000-4000-8000-00000000000" + i + "\r\n"
                                + "Lambda-Runtime-Deadline-Ms: " + (System.currentTimeMillis() + 3000) + "\r\n"
                                + "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:local:000000000000:function:t\r\n"
                                + "Lambda-Runtime-Trace-Id: Root=1-0-0\r\n"
                                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                        canned.write(body);
                        canned.write("HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"
                                .getBytes(StandardCharsets.ISO_8859_1));
                    }
                    RuntimeApi api = new RuntimeApi(new ByteArrayInputStream(canned.toByteArray()),
                            new ByteArrayOutputStream(), "lamina");
                    loop(api, handler);
                }
                try {
                    Handler.load("no.such.Class::handleRequest", function);
                } catch (Handler.Fault f) {
                    Map<String, Object> err = error(f.type, f.getMessage(), null);
                    logError(f, err);
                    Json.write(err);
                }
            } catch (Throwable t) {
                realErr.println("lamina training run failed: " + t);
                t.printStackTrace(realErr);
                System.exit(1);
            } finally {
                System.setErr(realErr);
                System.setOut(realOut);
            }
        }
    }
}
