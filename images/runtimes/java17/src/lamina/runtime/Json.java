package lamina.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * JSON for the runtime: Java has none built in and the runtime may not depend on anything
 * the JDK lacks. RFC 8259, strict.
 *
 * <p>Parsing gives what Jackson's untyped mapping gives (which is what a Lambda handler
 * taking {@code Object} or {@code Map} sees): objects as {@code LinkedHashMap<String,
 * Object>}, arrays as {@code ArrayList<Object>}, integers as {@code Integer}, {@code Long}
 * or {@code BigInteger} by size, other numbers as {@code Double}, and {@code String},
 * {@code Boolean}, {@code null}.
 *
 * <p>{@link #convert} maps such a value onto a handler's parameter type (primitives and
 * their boxes, String, collections and maps with generic element types, arrays, enums,
 * records and bean-style POJOs: public setters or public fields; unknown properties are
 * ignored, as Lambda's serializer does). {@link #write} serialises a handler's result
 * (maps, iterables, arrays, numbers, strings, enums by name, dates as epoch
 * milliseconds, records, and POJOs by their public getters and public fields).
 */
public final class Json {
    private Json() {}

    /** Malformed JSON, or a value that cannot take the requested shape. */
    public static final class JsonException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        JsonException(String message) {
            super(message);
        }
    }

    // ---------------------------------------------------------------- parsing

    public static Object parse(String s) {
        Parser p = new Parser(s);
        p.skipWs();
        Object v = p.value(0);
        p.skipWs();
        if (p.pos != s.length()) {
            throw p.error("unexpected data after the JSON value");
        }
        return v;
    }

    private static final int MAX_DEPTH = 1000;

    private static final class Parser {
        final String s;
        int pos;

        Parser(String s) {
            this.s = s;
        }

        JsonException error(String what) {
            return new JsonException(what + " at offset " + pos);
        }

        void skipWs() {
            int n = s.length();
            while (pos < n) {
                char c = s.charAt(pos);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                    break;
                }
                pos++;
            }
        }

        Object value(int depth) {
            if (depth > MAX_DEPTH) {
                throw error("nesting too deep");
            }
            if (pos >= s.length()) {
                throw error("unexpected end of input");
            }
            char c = s.charAt(pos);
            switch (c) {
                case '{':
                    return object(depth);
                case '[':
                    return array(depth);
                case '"':
                    return string();
                case 't':
                    literal("true");
                    return Boolean.TRUE;
                case 'f':
                    literal("false");
                    return Boolean.FALSE;
                case 'n':
                    literal("null");
                    return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        return number();
                    }
                    throw error("unexpected character '" + c + "'");
            }
        }

        void literal(String word) {
            if (!s.startsWith(word, pos)) {
                throw error("invalid literal");
            }
            pos += word.length();
        }

        Map<String, Object> object(int depth) {
            LinkedHashMap<String, Object> m = new LinkedHashMap<>();
            pos++; // '{'
            skipWs();
            if (pos < s.length() && s.charAt(pos) == '}') {
                pos++;
                return m;
            }
            for (;;) {
                skipWs();
                if (pos >= s.length() || s.charAt(pos) != '"') {
                    throw error("expected a property name");
                }
                String key = string();
                skipWs();
                if (pos >= s.length() || s.charAt(pos) != ':') {
                    throw error("expected ':'");
                }
                pos++;
                skipWs();
                m.put(key, value(depth + 1));
                skipWs();
                if (pos >= s.length()) {
                    throw error("unterminated object");
                }
                char c = s.charAt(pos++);
                if (c == '}') {
                    return m;
                }
                if (c != ',') {
                    pos--;
                    throw error("expected ',' or '}'");
                }
            }
        }

        List<Object> array(int depth) {
            ArrayList<Object> a = new ArrayList<>();
            pos++; // '['
            skipWs();
            if (pos < s.length() && s.charAt(pos) == ']') {
                pos++;
                return a;
            }
            for (;;) {
                skipWs();
                a.add(value(depth + 1));
                skipWs();
                if (pos >= s.length()) {
                    throw error("unterminated array");
                }
                char c = s.charAt(pos++);
                if (c == ']') {
                    return a;
                }
                if (c != ',') {
                    pos--;
                    throw error("expected ',' or ']'");
                }
            }
        }

        String string() {
            int start = ++pos; // after '"'
            int n = s.length();
            // Fast path: no escapes.
            while (pos < n) {
                char c = s.charAt(pos);
                if (c == '"') {
                    return s.substring(start, pos++);
                }
                if (c == '\\') {
                    break;
                }
                if (c < 0x20) {
                    throw error("control character in string");
                }
                pos++;
            }
            StringBuilder b = new StringBuilder(pos - start + 16);
            b.append(s, start, pos);
            while (pos < n) {
                char c = s.charAt(pos++);
                if (c == '"') {
                    return b.toString();
                }
                if (c < 0x20) {
                    pos--;
                    throw error("control character in string");
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (pos >= n) {
                    break;
                }
                char e = s.charAt(pos++);
                switch (e) {
                    case '"':
                    case '\\':
                    case '/':
                        b.append(e);
                        break;
                    case 'b':
                        b.append('\b');
                        break;
                    case 'f':
                        b.append('\f');
                        break;
                    case 'n':
                        b.append('\n');
                        break;
                    case 'r':
                        b.append('\r');
                        break;
                    case 't':
                        b.append('\t');
                        break;
                    case 'u':
                        if (pos + 4 > n) {
                            throw error("truncated \\u escape");
                        }
                        int v = 0;
                        for (int i = 0; i < 4; i++) {
                            int d = Character.digit(s.charAt(pos++), 16);
                            if (d < 0) {
                                throw error("bad \\u escape");
                            }
                            v = v * 16 + d;
                        }
                        b.append((char) v);
                        break;
                    default:
                        pos--;
                        throw error("bad escape '\\" + e + "'");
                }
            }
            throw error("unterminated string");
        }

        Object number() {
            int start = pos;
            int n = s.length();
            if (s.charAt(pos) == '-') {
                pos++;
            }
            if (pos >= n) {
                throw error("truncated number");
            }
            if (s.charAt(pos) == '0') {
                pos++;
            } else if (s.charAt(pos) >= '1' && s.charAt(pos) <= '9') {
                while (pos < n && Character.isDigit(s.charAt(pos)) && s.charAt(pos) < 128) {
                    pos++;
                }
            } else {
                throw error("bad number");
            }
            boolean integral = true;
            if (pos < n && s.charAt(pos) == '.') {
                integral = false;
                pos++;
                int d = pos;
                while (pos < n && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
                    pos++;
                }
                if (pos == d) {
                    throw error("bad number: no digits after '.'");
                }
            }
            if (pos < n && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
                integral = false;
                pos++;
                if (pos < n && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) {
                    pos++;
                }
                int d = pos;
                while (pos < n && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
                    pos++;
                }
                if (pos == d) {
                    throw error("bad number: no digits in the exponent");
                }
            }
            String t = s.substring(start, pos);
            if (!integral) {
                return Double.valueOf(t);
            }
            int digits = t.length() - (t.charAt(0) == '-' ? 1 : 0);
            if (digits <= 9) {
                return Integer.valueOf(Integer.parseInt(t));
            }
            if (digits <= 18) {
                long l = Long.parseLong(t);
                if (l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
                    return Integer.valueOf((int) l);
                }
                return Long.valueOf(l);
            }
            BigInteger big = new BigInteger(t);
            if (big.bitLength() < 64) {
                return Long.valueOf(big.longValue());
            }
            return big;
        }
    }

    // ---------------------------------------------------------------- writing

    public static String write(Object o) {
        StringBuilder b = new StringBuilder(256);
        write(b, o, 0);
        return b.toString();
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    public static void quote(StringBuilder b, String s) {
        b.append('"');
        int n = s.length();
        int run = 0;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != '"' && c != '\\' && c != 0x2028 && c != 0x2029) {
                continue;
            }
            b.append(s, run, i);
            run = i + 1;
            switch (c) {
                case '"':
                    b.append("\\\"");
                    break;
                case '\\':
                    b.append("\\\\");
                    break;
                case '\n':
                    b.append("\\n");
                    break;
                case '\r':
                    b.append("\\r");
                    break;
                case '\t':
                    b.append("\\t");
                    break;
                case '\b':
                    b.append("\\b");
                    break;
                case '\f':
                    b.append("\\f");
                    break;
                default:
                    b.append("\\u").append(HEX[(c >> 12) & 15]).append(HEX[(c >> 8) & 15])
                            .append(HEX[(c >> 4) & 15]).append(HEX[c & 15]);
            }
        }
        b.append(s, run, n);
        b.append('"');
    }

    private static void write(StringBuilder b, Object o, int depth) {
        if (depth > MAX_DEPTH) {
            throw new JsonException("the value nests too deeply (a cycle?)");
        }
        if (o == null) {
            b.append("null");
        } else if (o instanceof String) {
            quote(b, (String) o);
        } else if (o instanceof Boolean) {
            b.append(((Boolean) o).booleanValue() ? "true" : "false");
        } else if (o instanceof Double || o instanceof Float) {
            double d = ((Number) o).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                b.append("null"); // not representable in JSON
            } else if (o instanceof Float) {
                b.append(o.toString());
            } else {
                b.append(d);
            }
        } else if (o instanceof BigDecimal) {
            b.append(((BigDecimal) o).toString());
        } else if (o instanceof Number) {
            b.append(o.toString());
        } else if (o instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                Object k = e.getKey();
                quote(b, k instanceof Enum ? ((Enum<?>) k).name() : String.valueOf(k));
                b.append(':');
                write(b, e.getValue(), depth + 1);
            }
            b.append('}');
        } else if (o instanceof Iterable) {
            b.append('[');
            Iterator<?> it = ((Iterable<?>) o).iterator();
            boolean first = true;
            while (it.hasNext()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                write(b, it.next(), depth + 1);
            }
            b.append(']');
        } else if (o instanceof Character || o instanceof CharSequence) {
            quote(b, o.toString());
        } else if (o instanceof Enum) {
            quote(b, ((Enum<?>) o).name());
        } else if (o instanceof byte[]) {
            quote(b, Base64.getEncoder().encodeToString((byte[]) o));
        } else if (o.getClass().isArray()) {
            b.append('[');
            int n = Array.getLength(o);
            for (int i = 0; i < n; i++) {
                if (i > 0) {
                    b.append(',');
                }
                write(b, Array.get(o, i), depth + 1);
            }
            b.append(']');
        } else if (o instanceof Optional) {
            write(b, ((Optional<?>) o).orElse(null), depth + 1);
        } else if (o instanceof Date) {
            b.append(((Date) o).getTime());
        } else if (o.getClass().getName().startsWith("java.")) {
            // java.time, UUID, URI, File...: their string form, as Jackson's ToString.
            quote(b, o.toString());
        } else {
            writeBean(b, o, depth);
        }
    }

    /** A record by its components, a POJO by its public getters and public fields. */
    private static void writeBean(StringBuilder b, Object o, int depth) {
        Class<?> c = o.getClass();
        b.append('{');
        boolean first = true;
        try {
            if (c.isRecord()) {
                for (RecordComponent rc : c.getRecordComponents()) {
                    Method m = rc.getAccessor();
                    m.setAccessible(true);
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    quote(b, rc.getName());
                    b.append(':');
                    write(b, m.invoke(o), depth + 1);
                }
                b.append('}');
                return;
            }
            Set<String> seen = new LinkedHashSet<>();
            for (Method m : c.getMethods()) {
                if (Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0
                        || m.getDeclaringClass() == Object.class || m.isBridge()) {
                    continue;
                }
                String name = m.getName();
                String prop;
                if (name.startsWith("get") && name.length() > 3 && m.getReturnType() != void.class) {
                    prop = decapitalize(name.substring(3));
                } else if (name.startsWith("is") && name.length() > 2
                        && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                    prop = decapitalize(name.substring(2));
                } else {
                    continue;
                }
                if (!seen.add(prop)) {
                    continue;
                }
                if (!first) {
                    b.append(',');
                }
                first = false;
                quote(b, prop);
                b.append(':');
                write(b, m.invoke(o), depth + 1);
            }
            for (Field f : c.getFields()) {
                if (Modifier.isStatic(f.getModifiers()) || !seen.add(f.getName())) {
                    continue;
                }
                if (!first) {
                    b.append(',');
                }
                first = false;
                quote(b, f.getName());
                b.append(':');
                write(b, f.get(o), depth + 1);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            if (e instanceof JsonException) {
                throw (JsonException) e;
            }
            Throwable cause = e instanceof java.lang.reflect.InvocationTargetException ? e.getCause() : e;
            throw new JsonException("cannot serialize " + c.getName() + ": " + cause);
        }
        b.append('}');
    }

    /** Jackson's property naming: "URL" -> "url", "Name" -> "name", "xName" -> "xName". */
    static String decapitalize(String s) {
        int n = s.length();
        int upper = 0;
        while (upper < n && Character.isUpperCase(s.charAt(upper))) {
            upper++;
        }
        if (upper == 0) {
            return s;
        }
        if (upper == 1 || upper == n) {
            return s.substring(0, upper).toLowerCase() + s.substring(upper);
        }
        // "URLValue" -> "urlvalue" in Jackson's default (it lowercases the leading run).
        return s.substring(0, upper).toLowerCase() + s.substring(upper);
    }

    // ---------------------------------------------------------------- conversion

    private static final Map<Class<?>, Object> PRIMITIVE_DEFAULTS = new HashMap<>();

    static {
        PRIMITIVE_DEFAULTS.put(boolean.class, Boolean.FALSE);
        PRIMITIVE_DEFAULTS.put(char.class, Character.valueOf('\0'));
        PRIMITIVE_DEFAULTS.put(byte.class, Byte.valueOf((byte) 0));
        PRIMITIVE_DEFAULTS.put(short.class, Short.valueOf((short) 0));
        PRIMITIVE_DEFAULTS.put(int.class, Integer.valueOf(0));
        PRIMITIVE_DEFAULTS.put(long.class, Long.valueOf(0));
        PRIMITIVE_DEFAULTS.put(float.class, Float.valueOf(0));
        PRIMITIVE_DEFAULTS.put(double.class, Double.valueOf(0));
    }

    /** The parsed JSON value {@code v} as an instance of {@code type}. */
    public static Object convert(Object v, Type type) {
        return convert(v, type, "$");
    }

    private static Class<?> rawClass(Type t) {
        if (t instanceof Class) {
            return (Class<?>) t;
        }
        if (t instanceof ParameterizedType) {
            return rawClass(((ParameterizedType) t).getRawType());
        }
        if (t instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        if (t instanceof WildcardType) {
            Type[] up = ((WildcardType) t).getUpperBounds();
            return up.length > 0 ? rawClass(up[0]) : Object.class;
        }
        return Object.class; // a type variable
    }

    private static Type typeArg(Type t, int i) {
        if (t instanceof ParameterizedType) {
            Type[] args = ((ParameterizedType) t).getActualTypeArguments();
            if (i < args.length) {
                return args[i];
            }
        }
        return Object.class;
    }

    private static JsonException mismatch(Object v, Type type, String path) {
        String what = v == null ? "null" : v instanceof Map ? "an object" : v instanceof List ? "an array"
                : v instanceof String ? "a string" : v instanceof Boolean ? "a boolean" : "a number";
        return new JsonException("cannot convert " + what + " at " + path + " to " + type.getTypeName());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object convert(Object v, Type type, String path) {
        Class<?> c = rawClass(type);
        if (c == Object.class) {
            return v;
        }
        if (v == null) {
            if (c.isPrimitive()) {
                return PRIMITIVE_DEFAULTS.get(c);
            }
            if (c == Optional.class) {
                return Optional.empty();
            }
            return null;
        }
        if (c == String.class || c == CharSequence.class) {
            // A JSON string gives its value (as on Lambda); anything else its JSON text.
            return v instanceof String ? v : write(v);
        }
        if (c.isPrimitive() || Number.class.isAssignableFrom(c) || c == Boolean.class || c == Character.class) {
            return convertScalar(v, c, type, path);
        }
        if (c.isEnum()) {
            if (v instanceof String) {
                for (Object e : c.getEnumConstants()) {
                    if (((Enum<?>) e).name().equals(v)) {
                        return e;
                    }
                }
            }
            throw mismatch(v, type, path);
        }
        if (Map.class.isAssignableFrom(c)) {
            if (!(v instanceof Map)) {
                throw mismatch(v, type, path);
            }
            Map out;
            if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
                out = SortedMap.class.isAssignableFrom(c) ? new TreeMap<>()
                        : c.isAssignableFrom(ConcurrentHashMap.class) && !c.isAssignableFrom(LinkedHashMap.class)
                        ? new ConcurrentHashMap<>() : new LinkedHashMap<>();
            } else {
                out = (Map) newInstance(c, path);
            }
            Type vt = typeArg(type, 1);
            for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                out.put(e.getKey(), convert(e.getValue(), vt, path + "." + e.getKey()));
            }
            return out;
        }
        if (Collection.class.isAssignableFrom(c) || c == Iterable.class) {
            if (!(v instanceof List)) {
                throw mismatch(v, type, path);
            }
            Collection out;
            if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
                out = Set.class.isAssignableFrom(c) ? new LinkedHashSet<>() : new ArrayList<>();
            } else {
                out = (Collection) newInstance(c, path);
            }
            Type et = typeArg(type, 0);
            int i = 0;
            for (Object e : (List<Object>) v) {
                out.add(convert(e, et, path + "[" + i++ + "]"));
            }
            return out;
        }
        if (c == Optional.class) {
            return Optional.ofNullable(convert(v, typeArg(type, 0), path));
        }
        if (c == byte[].class && v instanceof String) {
            try {
                return Base64.getDecoder().decode((String) v);
            } catch (IllegalArgumentException e) {
                throw new JsonException("invalid base64 at " + path);
            }
        }
        if (c.isArray()) {
            if (!(v instanceof List)) {
                throw mismatch(v, type, path);
            }
            List<Object> l = (List<Object>) v;
            Type ct = type instanceof GenericArrayType ? ((GenericArrayType) type).getGenericComponentType()
                    : c.getComponentType();
            Object out = Array.newInstance(c.getComponentType(), l.size());
            for (int i = 0; i < l.size(); i++) {
                Array.set(out, i, convert(l.get(i), ct, path + "[" + i + "]"));
            }
            return out;
        }
        if (c == Date.class && v instanceof Number) {
            return new Date(((Number) v).longValue());
        }
        if (!(v instanceof Map)) {
            throw mismatch(v, type, path);
        }
        return convertBean((Map<String, Object>) v, c, type, path);
    }

    private static Object convertScalar(Object v, Class<?> c, Type type, String path) {
        if (c == boolean.class || c == Boolean.class) {
            if (v instanceof Boolean) {
                return v;
            }
            if ("true".equals(v) || "false".equals(v)) {
                return Boolean.valueOf((String) v);
            }
            throw mismatch(v, type, path);
        }
        if (c == char.class || c == Character.class) {
            if (v instanceof String && ((String) v).length() == 1) {
                return ((String) v).charAt(0);
            }
            throw mismatch(v, type, path);
        }
        Number n;
        if (v instanceof Number) {
            n = (Number) v;
        } else if (v instanceof String) {
            try {
                n = new BigDecimal(((String) v).trim());
            } catch (NumberFormatException e) {
                throw mismatch(v, type, path);
            }
        } else {
            throw mismatch(v, type, path);
        }
        if (c == int.class || c == Integer.class) {
            return n.intValue();
        }
        if (c == long.class || c == Long.class) {
            return n.longValue();
        }
        if (c == double.class || c == Double.class) {
            return n.doubleValue();
        }
        if (c == float.class || c == Float.class) {
            return n.floatValue();
        }
        if (c == short.class || c == Short.class) {
            return n.shortValue();
        }
        if (c == byte.class || c == Byte.class) {
            return n.byteValue();
        }
        if (c == BigDecimal.class) {
            return n instanceof BigDecimal ? n : n instanceof BigInteger ? new BigDecimal((BigInteger) n)
                    : new BigDecimal(n.toString());
        }
        if (c == BigInteger.class) {
            return n instanceof BigInteger ? n : new BigDecimal(n.toString()).toBigInteger();
        }
        if (c == Number.class) {
            return n;
        }
        throw mismatch(v, type, path);
    }

    private static Object newInstance(Class<?> c, String path) {
        try {
            Constructor<?> k = c.getDeclaredConstructor();
            k.setAccessible(true);
            return k.newInstance();
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new JsonException("cannot create " + c.getName() + " for " + path
                    + ": it needs a constructor without parameters (" + e + ")");
        }
    }

    private static Object convertBean(Map<String, Object> m, Class<?> c, Type type, String path) {
        try {
            if (c.isRecord()) {
                RecordComponent[] rcs = c.getRecordComponents();
                Class<?>[] types = new Class<?>[rcs.length];
                Object[] args = new Object[rcs.length];
                for (int i = 0; i < rcs.length; i++) {
                    types[i] = rcs[i].getType();
                    args[i] = convert(m.get(rcs[i].getName()), rcs[i].getGenericType(),
                            path + "." + rcs[i].getName());
                }
                Constructor<?> k = c.getDeclaredConstructor(types);
                k.setAccessible(true);
                return k.newInstance(args);
            }
            if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
                throw new JsonException("cannot create an instance of " + c.getName() + " for " + path);
            }
            Object o = newInstance(c, path);
            Map<String, Method> setters = new HashMap<>();
            for (Method s : c.getMethods()) {
                String name = s.getName();
                if (name.startsWith("set") && name.length() > 3 && s.getParameterCount() == 1
                        && !Modifier.isStatic(s.getModifiers())) {
                    setters.putIfAbsent(decapitalize(name.substring(3)), s);
                }
            }
            for (Map.Entry<String, Object> e : m.entrySet()) {
                String key = e.getKey();
                String p = path + "." + key;
                Method s = setters.get(key);
                if (s == null && !key.isEmpty()) {
                    s = setters.get(decapitalize(key));
                }
                if (s != null) {
                    s.invoke(o, convert(e.getValue(), s.getGenericParameterTypes()[0], p));
                    continue;
                }
                Field f;
                try {
                    f = c.getField(key);
                } catch (NoSuchFieldException x) {
                    continue; // unknown properties are ignored
                }
                if (!Modifier.isStatic(f.getModifiers()) && !Modifier.isFinal(f.getModifiers())) {
                    f.set(o, convert(e.getValue(), f.getGenericType(), p));
                }
            }
            return o;
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw new JsonException("cannot set a property of " + c.getName() + " at " + path + ": " + e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new JsonException("cannot create " + c.getName() + " for " + path + ": " + e);
        }
    }
}
