package lamina.runtime;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Rewrites a class's string concatenations from invokedynamic (javac's default since
 * JDK 9: {@code StringConcatFactory.makeConcatWithConstants}) to what
 * {@code javac -XDstringConcat=inline} would have compiled: a StringBuilder.
 *
 * <p>Why: the first concatenation linked by invokedynamic costs ~13 ms on JDK 17 (the
 * factory spins nine LambdaForm classes that no class-data-sharing archive of JDK 17 can
 * hold), on the critical path of every cold start, or in the first invocation at the
 * function's CPU share. A StringBuilder costs nothing to link and, run a few times, is
 * as fast.
 *
 * <p>How: each {@code invokedynamic} of a concatenation call site (5 bytes) becomes an
 * {@code invokestatic} (3 bytes) and two {@code nop}s, so no offset in the method moves:
 * branches, exception tables, line numbers and stack map frames stay valid as they are.
 * The call goes to a private static synthetic method added to the class, one per call
 * site shape, whose descriptor is the call site's own: it appends the recipe's constants
 * and the arguments to a StringBuilder, in order, and returns its string. That method has
 * no branch, so it needs no stack map frame. Strings are what the JDK's factory makes:
 * {@code String.valueOf} of each argument (StringBuilder.append(Object) is that), byte
 * and short as int, char as a character.
 *
 * <p>A class that is not a well-formed Java 9+ class file, or whose concatenation uses a
 * constant kind javac never emits, or that would outgrow the class file's limits, is
 * returned unchanged: the JVM links it as usual (or reports its format error itself).
 */
final class ConcatRewriter {
    private ConcatRewriter() {}

    private static final String FACTORY = "java/lang/invoke/StringConcatFactory";
    private static final String SB = "java/lang/StringBuilder";
    private static final String METHOD_PREFIX = "lamina$concat$";

    private static final int ACC_INTERFACE = 0x0200;
    private static final int SYNTHETIC_ACCESS = 0x0002 | 0x0008 | 0x1000; // private static synthetic

    // Constant pool tags.
    private static final int UTF8 = 1, INTEGER = 3, FLOAT = 4, LONG = 5, DOUBLE = 6, CLASS = 7, STRING = 8,
            METHODREF = 10, INTERFACE_METHODREF = 11, NAME_AND_TYPE = 12, METHOD_HANDLE = 15,
            INVOKE_DYNAMIC = 18;

    // Opcodes used or special-cased.
    private static final int NOP = 0x00, LDC_W = 0x13, LDC2_W = 0x14, ILOAD = 0x15, LLOAD = 0x16, FLOAD = 0x17,
            DLOAD = 0x18, ALOAD = 0x19, DUP = 0x59, TABLESWITCH = 0xaa, LOOKUPSWITCH = 0xab, ARETURN = 0xb0,
            INVOKEVIRTUAL = 0xb6, INVOKESPECIAL = 0xb7, INVOKESTATIC = 0xb8, INVOKEDYNAMIC = 0xba, NEW = 0xbb,
            WIDE = 0xc4;

    /** Length of each instruction with a fixed length; 0: invalid; -1: variable. */
    private static final byte[] LENGTH = new byte[256];

    static {
        Arrays.fill(LENGTH, 0, 0xca, (byte) 1);
        for (int op : new int[] {0x10, 0x12, 0x15, 0x16, 0x17, 0x18, 0x19, 0x36, 0x37, 0x38, 0x39, 0x3a, 0xa9,
            0xbc}) {
            LENGTH[op] = 2;
        }
        for (int op = 0x99; op <= 0xa8; op++) {
            LENGTH[op] = 3; // conditional branches, goto, jsr
        }
        for (int op = 0xb2; op <= 0xb8; op++) {
            LENGTH[op] = 3; // field accesses, invokevirtual/special/static
        }
        for (int op : new int[] {0x11, 0x13, 0x14, 0x84, 0xbb, 0xbd, 0xc0, 0xc1, 0xc6, 0xc7}) {
            LENGTH[op] = 3;
        }
        LENGTH[0xc5] = 4; // multianewarray
        for (int op : new int[] {0xb9, 0xba, 0xc8, 0xc9}) {
            LENGTH[op] = 5;
        }
        LENGTH[TABLESWITCH] = LENGTH[LOOKUPSWITCH] = LENGTH[WIDE] = -1;
    }

    /** The class file with its concatenations rewritten, or {@code b} itself. */
    static byte[] rewrite(byte[] b) {
        try {
            byte[] out = new ConcatRewriter.Run(b).rewrite();
            return out != null ? out : b;
        } catch (RuntimeException malformed) {
            return b; // out of bounds, bad descriptor: the JVM will say what is wrong
        }
    }

    /** One class file being rewritten. */
    private static final class Run {
        private final byte[] in;
        private int[] cp; // offset of each constant pool entry's tag; 0 for the second slot of long/double
        private int thisClass;
        private boolean isInterface;

        // Additions to the constant pool, deduplicated by content.
        private final Bytes pool = new Bytes(256);
        private final Map<String, Integer> added = new HashMap<>();
        private int nextIndex;

        Run(byte[] in) {
            this.in = in;
        }

        private int u1(int p) {
            return in[p] & 0xff;
        }

        private int u2(int p) {
            return (in[p] & 0xff) << 8 | in[p + 1] & 0xff;
        }

        private int u4(int p) {
            return u2(p) << 16 | u2(p + 2);
        }

        byte[] rewrite() {
            if (in.length < 10 || u4(0) != 0xCAFEBABE || u2(6) < 53) {
                return null; // invokedynamic concatenation needs a Java 9+ class file
            }
            int poolEnd = parsePool();
            int p = poolEnd;
            if (p < 0 || !hasUtf8(FACTORY)) {
                return null;
            }
            isInterface = (u2(p) & ACC_INTERFACE) != 0;
            thisClass = u2(p + 2);
            p += 6;
            p += 2 + 2 * u2(p); // interfaces
            p = skipMembers(p); // fields
            int methodsAt = p;
            int methodCount = u2(p);
            int[] codes = new int[methodCount]; // offset of each method's Code attribute, 0 if none
            p += 2;
            for (int m = 0; m < methodCount; m++) {
                int attrs = u2(p + 6);
                p += 8;
                for (int a = 0; a < attrs; a++) {
                    if (utf8Is(u2(p), "Code")) {
                        codes[m] = p;
                    }
                    p += 6 + u4(p + 2);
                }
            }
            int methodsEnd = p;
            int bootstrap = 0; // the BootstrapMethods attribute's data
            int attrs = u2(p);
            p += 2;
            for (int a = 0; a < attrs; a++) {
                if (utf8Is(u2(p), "BootstrapMethods")) {
                    bootstrap = p + 6;
                }
                p += 6 + u4(p + 2);
            }
            if (bootstrap == 0 || p != in.length) {
                return null;
            }
            int[] bsm = new int[u2(bootstrap)]; // offset of each bootstrap method entry
            for (int i = 0, q = bootstrap + 2; i < bsm.length; i++) {
                bsm[i] = q;
                q += 4 + 2 * u2(q + 2);
            }

            nextIndex = cp.length;
            Bytes methods = new Bytes(512);
            int synthetic = 0;
            int[] target = new int[cp.length]; // per invokedynamic entry: the Methodref replacing it
            for (int i = 1; i < cp.length; i++) {
                if (cp[i] == 0 || u1(cp[i]) != INVOKE_DYNAMIC) {
                    continue;
                }
                int b = u2(cp[i] + 1);
                String factoryMethod = b < bsm.length ? concatFactoryMethod(bsm[b]) : null;
                if (factoryMethod == null) {
                    continue;
                }
                int descriptor = u2(cp[u2(cp[i] + 3)] + 3); // of its NameAndType
                byte[] code = concatCode(bsm[b], factoryMethod.equals("makeConcatWithConstants"), descriptor);
                if (code == null) {
                    return null;
                }
                int name = utf8(METHOD_PREFIX + synthetic++);
                methods.u2(SYNTHETIC_ACCESS).u2(name).u2(descriptor).u2(1);
                methods.u2(utf8("Code")).u4(12 + code.length).u2(3).u2(slots(descriptor)).u4(code.length)
                        .bytes(code, 0, code.length).u2(0).u2(0);
                target[i] = entry((isInterface ? "I" : "M") + name, isInterface ? INTERFACE_METHODREF : METHODREF,
                        thisClass, entry("N" + name + "/" + descriptor, NAME_AND_TYPE, name, descriptor));
            }
            if (synthetic == 0) {
                return null;
            }
            if (nextIndex > 0xffff || methodCount + synthetic > 0xffff) {
                return null;
            }

            byte[] patched = in.clone();
            for (int m = 0; m < methodCount; m++) {
                if (codes[m] != 0 && !patchCode(patched, codes[m] + 14, u4(codes[m] + 10), target)) {
                    return null;
                }
            }
            Bytes out = new Bytes(in.length + pool.length + methods.length + 8);
            out.bytes(patched, 0, 8).u2(nextIndex);
            out.bytes(patched, 10, poolEnd - 10).bytes(pool.data, 0, pool.length);
            out.bytes(patched, poolEnd, methodsAt - poolEnd).u2(methodCount + synthetic);
            out.bytes(patched, methodsAt + 2, methodsEnd - methodsAt - 2).bytes(methods.data, 0, methods.length);
            out.bytes(patched, methodsEnd, in.length - methodsEnd);
            return Arrays.copyOf(out.data, out.length);
        }

        /** Records each entry's offset; the offset just past the pool, or -1. */
        private int parsePool() {
            cp = new int[u2(8)];
            int p = 10;
            for (int i = 1; i < cp.length; i++) {
                cp[i] = p;
                switch (u1(p)) {
                    case UTF8:
                        p += 3 + u2(p + 1);
                        break;
                    case INTEGER:
                    case FLOAT:
                    case 9: // Fieldref
                    case METHODREF:
                    case INTERFACE_METHODREF:
                    case NAME_AND_TYPE:
                    case 17: // Dynamic
                    case INVOKE_DYNAMIC:
                        p += 5;
                        break;
                    case LONG:
                    case DOUBLE:
                        p += 9;
                        i++; // takes two slots
                        break;
                    case CLASS:
                    case STRING:
                    case 16: // MethodType
                    case 19: // Module
                    case 20: // Package
                        p += 3;
                        break;
                    case METHOD_HANDLE:
                        p += 4;
                        break;
                    default:
                        return -1;
                }
            }
            return p;
        }

        private int skipMembers(int p) {
            int n = u2(p);
            p += 2;
            for (int i = 0; i < n; i++) {
                int attrs = u2(p + 6);
                p += 8;
                for (int a = 0; a < attrs; a++) {
                    p += 6 + u4(p + 2);
                }
            }
            return p;
        }

        private boolean utf8Is(int index, String ascii) {
            if (index <= 0 || index >= cp.length || cp[index] == 0) {
                return false;
            }
            int p = cp[index];
            if (u1(p) != UTF8 || u2(p + 1) != ascii.length()) {
                return false;
            }
            for (int i = 0; i < ascii.length(); i++) {
                if (in[p + 3 + i] != ascii.charAt(i)) {
                    return false;
                }
            }
            return true;
        }

        private boolean hasUtf8(String ascii) {
            for (int i = 1; i < cp.length; i++) {
                if (utf8Is(i, ascii)) {
                    return true;
                }
            }
            return false;
        }

        /** "makeConcatWithConstants" or "makeConcat" if that bootstrap method is the JDK's, else null. */
        private String concatFactoryMethod(int entry) {
            int handle = cp[u2(entry)];
            if (u1(handle) != METHOD_HANDLE || u1(handle + 1) != 6) { // REF_invokeStatic
                return null;
            }
            int ref = cp[u2(handle + 2)];
            if (u1(ref) != METHODREF || !utf8Is(u2(cp[u2(ref + 1)] + 1), FACTORY)) {
                return null;
            }
            int name = u2(cp[u2(ref + 3)] + 1);
            if (utf8Is(name, "makeConcatWithConstants")) {
                return "makeConcatWithConstants";
            }
            return utf8Is(name, "makeConcat") ? "makeConcat" : null;
        }

        /** Local variable slots the descriptor's parameters take. */
        private int slots(int descriptor) {
            int n = 0;
            for (char t : parameterTypes(descriptor)) {
                n += t == 'J' || t == 'D' ? 2 : 1;
            }
            return n;
        }

        /**
         * The parameters of a method descriptor, one char each, as they are appended: the
         * primitive's letter (byte and short as 'I'), 's' for java.lang.String, 'L' for
         * any other reference, arrays included (appended as an Object, String.valueOf).
         */
        private char[] parameterTypes(int descriptor) {
            int p = cp[descriptor] + 3;
            int end = p + u2(cp[descriptor] + 1);
            if (in[p++] != '(') {
                throw new IllegalArgumentException("descriptor");
            }
            char[] types = new char[end - p];
            int n = 0;
            while (in[p] != ')') {
                char c = (char) in[p];
                int start = p;
                while (in[p] == '[') {
                    p++;
                }
                if (in[p] == 'L') {
                    while (in[p] != ';') {
                        p++;
                    }
                }
                p++;
                if (p - start > 1) {
                    boolean string = p - start == 18 && new String(in, start, 18, StandardCharsets.ISO_8859_1)
                            .equals("Ljava/lang/String;");
                    types[n++] = string ? 's' : 'L';
                } else {
                    types[n++] = c == 'B' || c == 'S' ? 'I' : c;
                }
            }
            return Arrays.copyOf(types, n);
        }

        /** The synthetic method's code for a concatenation, or null if it cannot be made. */
        private byte[] concatCode(int bsmEntry, boolean withRecipe, int descriptor) {
            char[] types = parameterTypes(descriptor);
            byte[] recipe;
            int constant = bsmEntry + 6; // the static argument after the recipe
            int constants = bsmEntry + 4 + 2 * u2(bsmEntry + 2);
            if (withRecipe) {
                if (u2(bsmEntry + 2) < 1 || u1(cp[u2(bsmEntry + 4)]) != STRING) {
                    return null;
                }
                int utf = cp[u2(cp[u2(bsmEntry + 4)] + 1)];
                recipe = Arrays.copyOfRange(in, utf + 3, utf + 3 + u2(utf + 1));
            } else {
                recipe = new byte[types.length];
                Arrays.fill(recipe, (byte) 1);
            }
            Bytes code = new Bytes(16 + 8 * recipe.length);
            int builder = entry("C" + SB, CLASS, utf8(SB), 0);
            code.u1(NEW).u2(builder).u1(DUP).u1(INVOKESPECIAL).u2(sbMethod("<init>", "()V"));
            int arg = 0;
            int slot = 0;
            int literal = 0; // start of the pending literal text
            for (int i = 0; i <= recipe.length; i++) {
                int tag = i < recipe.length ? recipe[i] : -1;
                if (tag != 1 && tag != 2 && tag != -1) {
                    continue;
                }
                if (i > literal) { // modified UTF-8 encodes \1 and \2 as themselves: the slice is valid
                    byte[] text = Arrays.copyOfRange(recipe, literal, i);
                    int utf = entry("U" + new String(text, StandardCharsets.ISO_8859_1), UTF8, text);
                    code.u1(LDC_W).u2(entry("S" + utf, STRING, utf, 0));
                    code.u1(INVOKEVIRTUAL).u2(append('s'));
                }
                literal = i + 1;
                if (tag == 1) {
                    if (arg >= types.length) {
                        return null;
                    }
                    char t = types[arg++];
                    load(code, t, slot);
                    slot += t == 'J' || t == 'D' ? 2 : 1;
                    code.u1(INVOKEVIRTUAL).u2(append(t));
                } else if (tag == 2) {
                    if (constant >= constants) {
                        return null;
                    }
                    int index = u2(constant);
                    constant += 2;
                    char t;
                    switch (u1(cp[index])) {
                        case STRING: t = 's'; break;
                        case INTEGER: t = 'I'; break;
                        case FLOAT: t = 'F'; break;
                        case LONG: t = 'J'; break;
                        case DOUBLE: t = 'D'; break;
                        default: return null; // javac emits only strings here
                    }
                    code.u1(t == 'J' || t == 'D' ? LDC2_W : LDC_W).u2(index);
                    code.u1(INVOKEVIRTUAL).u2(append(t));
                }
            }
            if (arg != types.length || code.length > 0xfff0) {
                return null;
            }
            code.u1(INVOKEVIRTUAL).u2(sbMethod("toString", "()Ljava/lang/String;")).u1(ARETURN);
            return Arrays.copyOf(code.data, code.length);
        }

        private void load(Bytes code, char type, int slot) {
            int op;
            switch (type) {
                case 'J': op = LLOAD; break;
                case 'F': op = FLOAD; break;
                case 'D': op = DLOAD; break;
                case 's':
                case 'L': op = ALOAD; break;
                default: op = ILOAD; break; // Z, C, I (and B, S as I)
            }
            if (slot <= 0xff) {
                code.u1(op).u1(slot);
            } else {
                code.u1(WIDE).u1(op).u2(slot);
            }
        }

        /** StringBuilder.append for a parameter type of {@link #parameterTypes}. */
        private int append(char type) {
            String arg;
            switch (type) {
                case 's': arg = "Ljava/lang/String;"; break;
                case 'L': arg = "Ljava/lang/Object;"; break;
                default: arg = String.valueOf(type); break;
            }
            return sbMethod("append", "(" + arg + ")Ljava/lang/StringBuilder;");
        }

        private int sbMethod(String name, String descriptor) {
            int builder = entry("C" + SB, CLASS, utf8(SB), 0);
            int n = utf8(name);
            int d = utf8(descriptor);
            return entry("M" + SB + "." + name + descriptor, METHODREF, builder,
                    entry("N" + n + "/" + d, NAME_AND_TYPE, n, d));
        }

        private int utf8(String ascii) {
            byte[] b = ascii.getBytes(StandardCharsets.ISO_8859_1);
            return entry("U" + ascii, UTF8, b);
        }

        private int entry(String key, int tag, byte[] utf8) {
            Integer known = added.get(key);
            if (known != null) {
                return known;
            }
            pool.u1(tag).u2(utf8.length).bytes(utf8, 0, utf8.length);
            added.put(key, nextIndex);
            return nextIndex++;
        }

        /** A constant of one or two u2 operands (b is ignored for Class and String). */
        private int entry(String key, int tag, int a, int b) {
            Integer known = added.get(key);
            if (known != null) {
                return known;
            }
            pool.u1(tag).u2(a);
            if (tag != CLASS && tag != STRING) {
                pool.u2(b);
            }
            added.put(key, nextIndex);
            return nextIndex++;
        }

        /**
         * Replaces each concatenation's invokedynamic in one method's code (at {@code at},
         * {@code length} bytes) by invokestatic and two nops; false if the code cannot be
         * walked.
         */
        private boolean patchCode(byte[] out, int at, int length, int[] target) {
            int pc = 0;
            while (pc < length) {
                int op = u1(at + pc);
                int n = LENGTH[op];
                if (n == -1) {
                    if (op == WIDE) {
                        n = u1(at + pc + 1) == 0x84 ? 6 : 4; // wide iinc, else a wide load/store/ret
                    } else {
                        int q = (pc + 4) & ~3; // operands are 4-byte aligned from the code's start
                        n = op == TABLESWITCH ? q + 12 + 4 * (u4(at + q + 8) - u4(at + q + 4) + 1) - pc
                                : q + 8 + 8 * u4(at + q + 4) - pc;
                    }
                }
                if (op == INVOKEDYNAMIC) {
                    int index = u2(at + pc + 1);
                    if (index < target.length && target[index] != 0) {
                        out[at + pc] = (byte) INVOKESTATIC;
                        out[at + pc + 1] = (byte) (target[index] >> 8);
                        out[at + pc + 2] = (byte) target[index];
                        out[at + pc + 3] = NOP;
                        out[at + pc + 4] = NOP;
                    }
                }
                if (n <= 0) {
                    return false;
                }
                pc += n;
            }
            return pc == length;
        }
    }

    /** A growable big-endian byte buffer. */
    private static final class Bytes {
        byte[] data;
        int length;

        Bytes(int capacity) {
            data = new byte[Math.max(capacity, 16)];
        }

        private void room(int n) {
            if (length + n > data.length) {
                data = Arrays.copyOf(data, Math.max(data.length * 2, length + n));
            }
        }

        Bytes u1(int v) {
            room(1);
            data[length++] = (byte) v;
            return this;
        }

        Bytes u2(int v) {
            room(2);
            data[length++] = (byte) (v >> 8);
            data[length++] = (byte) v;
            return this;
        }

        Bytes u4(int v) {
            return u2(v >>> 16).u2(v & 0xffff);
        }

        Bytes bytes(byte[] b, int off, int n) {
            room(n);
            System.arraycopy(b, off, data, length, n);
            length += n;
            return this;
        }
    }
}
