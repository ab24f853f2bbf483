package lamina.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;

/**
 * A handler named as Lambda's Java runtime names them: {@code package.Class::method}, or
 * {@code package.Class} (a RequestHandler or RequestStreamHandler, else its method
 * {@code handleRequest}). Loaded once, at init: the class is initialised (its static
 * code runs) and, for an instance method, one instance is made with its constructor
 * without parameters.
 *
 * <p>Accepted signatures, the first that the method has wins: {@code (InputStream,
 * OutputStream, Context)}, {@code (InputStream, OutputStream)}, {@code (T, Context)},
 * {@code (T)}, {@code ()}; T is converted from the event by {@link Json#convert}.
 */
final class Handler {
    /** An error in the handler's name or shape: Lambda's Runtime.* errors. */
    static final class Fault extends Exception {
        private static final long serialVersionUID = 1L;
        final String type;

        Fault(String type, String message, Throwable cause) {
            super(message, cause);
            this.type = type;
        }
    }

    private final Object target; // null for a static method
    private final Method method;
    private final boolean stream;
    private final Type input; // null: no input parameter
    private final boolean withContext;
    private final boolean returnsVoid;

    private Handler(Object target, Method method, boolean stream, Type input, boolean withContext) {
        this.target = target;
        this.method = method;
        this.stream = stream;
        this.input = input;
        this.withContext = withContext;
        this.returnsVoid = method.getReturnType() == void.class;
    }

    static Handler load(String name, ClassLoader loader) throws Fault, Throwable {
        if (name == null || name.isEmpty()) {
            throw new Fault("Runtime.MalformedHandlerName", "the handler is empty: expected package.Class::method",
                    null);
        }
        String className = name;
        String methodName = null;
        int sep = name.indexOf("::");
        if (sep >= 0) {
            className = name.substring(0, sep);
            methodName = name.substring(sep + 2);
            if (className.isEmpty() || methodName.isEmpty() || methodName.contains(":")) {
                throw new Fault("Runtime.MalformedHandlerName",
                        "Bad handler '" + name + "': expected package.Class::method", null);
            }
        }
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader);
        } catch (ClassNotFoundException | NoClassDefFoundError e) {
            throw new Fault("java.lang.ClassNotFoundException", "Class not found: " + className, e);
        } catch (ExceptionInInitializerError e) {
            throw e.getCause() != null ? e.getCause() : e; // the static initialiser's own exception
        }
        Method m = null;
        if (methodName == null) {
            if (RequestStreamHandler.class.isAssignableFrom(cls)) {
                m = cls.getMethod("handleRequest", InputStream.class, OutputStream.class, Context.class);
            } else if (RequestHandler.class.isAssignableFrom(cls)) {
                m = requestHandlerMethod(cls);
            }
            methodName = "handleRequest";
        }
        if (m == null) {
            m = pick(cls, methodName);
        }
        if (m == null) {
            throw new Fault("Runtime.HandlerNotFound", "No public method named " + methodName
                    + " with appropriate method signature found on class " + className, null);
        }
        Object target = null;
        if (!Modifier.isStatic(m.getModifiers())) {
            try {
                Constructor<?> k = cls.getDeclaredConstructor();
                k.setAccessible(true);
                target = k.newInstance();
            } catch (NoSuchMethodException e) {
                throw new Fault("Runtime.HandlerNotFound", "Class " + className
                        + " has no constructor without parameters (needed for the instance method "
                        + methodName + ")", e);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }
        m.setAccessible(true);
        Class<?>[] p = m.getParameterTypes();
        boolean stream = p.length >= 2 && p[0] == InputStream.class && p[1] == OutputStream.class;
        Type in = null;
        boolean ctx;
        if (stream) {
            ctx = p.length == 3;
        } else {
            ctx = p.length >= 1 && p[p.length - 1] == Context.class;
            if (p.length - (ctx ? 1 : 0) == 1) {
                in = m.getGenericParameterTypes()[0];
                if (in instanceof TypeVariable && cls.getGenericInterfaces().length > 0) {
                    in = resolveInput(cls);
                }
            }
        }
        return new Handler(target, m, stream, in, ctx);
    }

    /** The handleRequest of a RequestHandler, the specific one rather than the bridge. */
    private static Method requestHandlerMethod(Class<?> cls) {
        Method bridge = null;
        for (Method m : cls.getMethods()) {
            if (m.getName().equals("handleRequest") && m.getParameterCount() == 2
                    && m.getParameterTypes()[1] == Context.class) {
                if (!m.isBridge()) {
                    return m;
                }
                bridge = m;
            }
        }
        return bridge;
    }

    /** The I of RequestHandler<I, O> as the class (or a superclass) declares it. */
    private static Type resolveInput(Class<?> cls) {
        for (Class<?> c = cls; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Type t : c.getGenericInterfaces()) {
                if (t instanceof ParameterizedType
                        && ((ParameterizedType) t).getRawType() == RequestHandler.class) {
                    return ((ParameterizedType) t).getActualTypeArguments()[0];
                }
            }
        }
        return Object.class;
    }

    /** The best public method of that name, by Lambda's order of signatures. */
    private static Method pick(Class<?> cls, String name) {
        Method best = null;
        int bestRank = Integer.MAX_VALUE;
        for (Method m : cls.getMethods()) {
            if (!m.getName().equals(name)) {
                continue;
            }
            Class<?>[] p = m.getParameterTypes();
            int rank;
            if (p.length == 3 && p[0] == InputStream.class && p[1] == OutputStream.class && p[2] == Context.class) {
                rank = 0;
            } else if (p.length == 2 && p[0] == InputStream.class && p[1] == OutputStream.class) {
                rank = 1;
            } else if (p.length == 2 && p[1] == Context.class) {
                rank = 2;
            } else if (p.length == 1) {
                rank = 3;
            } else if (p.length == 0) {
                rank = 4;
            } else {
                continue;
            }
            rank = rank * 2 + (m.isBridge() ? 1 : 0);
            if (rank < bestRank) {
                best = m;
                bestRank = rank;
            }
        }
        return best;
    }

    /** Thrown when the event cannot take the handler's input type. */
    static final class UnmarshalError extends Exception {
        private static final long serialVersionUID = 1L;

        UnmarshalError(String m, Throwable cause) {
            super(m, cause);
        }
    }

    /** Thrown when the result cannot be serialised. */
    static final class MarshalError extends Exception {
        private static final long serialVersionUID = 1L;

        MarshalError(String m, Throwable cause) {
            super(m, cause);
        }
    }

    /**
     * Runs the handler on one event. Returns the response body; throws the handler's own
     * exception (unwrapped), UnmarshalError or MarshalError.
     */
    byte[] invoke(byte[] event, Context context) throws Throwable {
        Object[] args;
        ByteArrayOutputStream out = null;
        if (stream) {
            out = new ByteArrayOutputStream();
            InputStream in = new ByteArrayInputStream(event);
            args = withContext ? new Object[] {in, out, context} : new Object[] {in, out};
        } else {
            Object value = null;
            if (input != null) {
                String text = new String(event, StandardCharsets.UTF_8);
                try {
                    Object parsed = text.isEmpty() ? null : Json.parse(text);
                    value = Json.convert(parsed, input);
                } catch (Json.JsonException e) {
                    throw new UnmarshalError("Unable to unmarshal input: " + e.getMessage(), e);
                }
            }
            if (input != null) {
                args = withContext ? new Object[] {value, context} : new Object[] {value};
            } else {
                args = withContext ? new Object[] {context} : new Object[0];
            }
        }
        Object result;
        try {
            result = method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
        if (stream) {
            return out.toByteArray();
        }
        if (returnsVoid) {
            return NULL;
        }
        try {
            return Json.write(result).getBytes(StandardCharsets.UTF_8);
        } catch (Json.JsonException | StackOverflowError e) {
            throw new MarshalError("Unable to marshal response: " + e.getMessage(), e);
        }
    }

    private static final byte[] NULL = {'n', 'u', 'l', 'l'};
}
