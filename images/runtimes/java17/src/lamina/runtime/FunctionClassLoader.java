package lamina.runtime;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.security.CodeSigner;
import java.security.CodeSource;
import java.security.Permission;
import java.security.PermissionCollection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.zip.ZipFile;

/**
 * The function's own class loader, as Lambda's Java runtime has one: the function's code
 * is not on the JVM's class path (that holds the runtime alone) but in this loader, the
 * handler's and the threads' context class loader. Its class path, in order:
 * {@code /var/task} (classes), {@code /var/task/lib/*.jar}, {@code /var/task/*.jar},
 * {@code /opt/java/lib/*.jar} (layers), the jars of each directory sorted by name, as
 * Lambda sorts them. The JDK (the platform class loader, the parent) is asked first, then
 * for the package {@code com.amazonaws.services.lambda.runtime} the runtime's own jar, so
 * that the runtime's {@code Context} and handler interfaces win over copies bundled in a
 * function's jar. The runtime's other classes are not the function's to see; the JDK's
 * modules that the application class loader defines are, after a miss.
 *
 * <p>Why not the runtime's loader as the parent: each class of the function would first
 * be looked up in the runtime's jar, which the JVM has not opened otherwise (its classes
 * come from the class-data-sharing archive): ~2 ms of every cold start.
 *
 * <p>Each class it defines goes through {@link ConcatRewriter} first. Resources are
 * looked up in the same open jars and directories, with the URLs URLClassLoader would
 * give them: its own lookup would open every jar a second time, in order, up to the one
 * holding the resource (~10 ms of init for a resource in a function's 30th jar).
 * java.io only: java.nio.file's first use costs ~2 ms of class initialisation, on the
 * critical path of every cold start.
 */
final class FunctionClassLoader extends URLClassLoader {
    static {
        ClassLoader.registerAsParallelCapable();
    }

    /** One class path entry: a directory or a jar, opened at its first use. */
    private static final class Root {
        final File path;
        final URL url;
        final boolean jar;
        final CodeSource unsigned;
        private volatile JarFile file;
        private boolean unreadable;

        Root(File path, boolean jar) throws MalformedURLException {
            this.path = path;
            // As Lambda's runtime makes them; a directory's URL ends with '/'.
            this.url = new URL("file", null, -1, jar ? path.getPath() : path.getPath() + "/");
            this.jar = jar;
            this.unsigned = new CodeSource(url, (CodeSigner[]) null);
        }

        /** Where a resource of this entry is (its URL as URLClassLoader gives it), or null. */
        URL resource(String name) throws MalformedURLException {
            if (jar) {
                JarFile f = jar();
                JarEntry e = f != null ? f.getJarEntry(name) : null;
                // A multi-release jar's entry of this release is named by its real path.
                return e == null ? null
                        : new URL("jar", "", -1, url + "!/" + encodePath(f.isMultiRelease() ? e.getRealName() : name));
            }
            return new File(path, name).exists() ? new URL(url, encodePath(name)) : null;
        }

        /** The resource's content, or null if this entry has none. */
        InputStream open(String name) throws IOException {
            if (jar) {
                JarFile f = jar();
                JarEntry e = f != null ? f.getJarEntry(name) : null;
                return e == null ? null : f.getInputStream(e);
            }
            File file = new File(path, name);
            return file.isFile() ? new FileInputStream(file) : null;
        }

        /** The jar, opened with its multi-release versions; null if it cannot be read. */
        JarFile jar() {
            JarFile f = file;
            if (f != null) {
                return f;
            }
            synchronized (this) {
                if (file == null && !unreadable) {
                    try {
                        file = new JarFile(path, true, ZipFile.OPEN_READ, JarFile.runtimeVersion());
                    } catch (IOException | SecurityException e) {
                        unreadable = true; // as on a class path: a broken jar is passed over
                    }
                }
                return file;
            }
        }
    }

    /** The runtime's interfaces for handlers (Context, RequestHandler...), in the runtime's jar. */
    private static final String API_PACKAGE = "com.amazonaws.services.lambda.runtime.";

    private final Root[] roots;
    private final ClassLoader runtime;

    private FunctionClassLoader(Root[] roots, ClassLoader runtime) {
        // Unnamed: a named loader would prefix the function's stack frames with its name.
        super(urls(roots), ClassLoader.getPlatformClassLoader());
        this.roots = roots;
        this.runtime = runtime;
    }

    private static URL[] urls(Root[] roots) {
        URL[] urls = new URL[roots.length];
        for (int i = 0; i < roots.length; i++) {
            urls[i] = roots[i].url;
        }
        return urls;
    }

    /** The loader of a function's code in an instance; runtime: the loader of the runtime's jar. */
    static FunctionClassLoader forInstance(ClassLoader runtime) throws IOException {
        return of(new File("/var/task"), new File("/opt/java"), runtime);
    }

    /** The loader of the code in task (the code's directory) and layers (Lambda's /opt/java). */
    static FunctionClassLoader of(File task, File layers, ClassLoader runtime) throws IOException {
        List<Root> roots = new ArrayList<>();
        if (task.isDirectory()) {
            roots.add(new Root(task, false));
        }
        addJars(new File(task, "lib"), roots);
        addJars(task, roots);
        addJars(new File(layers, "lib"), roots);
        return new FunctionClassLoader(roots.toArray(new Root[0]), runtime);
    }

    private static void addJars(File dir, List<Root> roots) throws IOException {
        String[] names = dir.list();
        if (names == null) {
            return; // no such directory
        }
        Arrays.sort(names);
        for (String name : names) {
            File f = new File(dir, name);
            if (name.endsWith(".jar") && f.isFile()) {
                roots.add(new Root(f, true));
            }
        }
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (name.startsWith(API_PACKAGE) && name.indexOf('.', API_PACKAGE.length()) < 0) {
            try {
                return runtime.loadClass(name);
            } catch (ClassNotFoundException notTheRuntimes) {
                // a class of aws-lambda-java-core that lamina has not: the function's copy
            }
        }
        try {
            return super.loadClass(name, resolve);
        } catch (ClassNotFoundException e) {
            if (inApplicationModule(name)) {
                return runtime.loadClass(name);
            }
            throw e;
        }
    }

    /** Packages of the JDK's modules that the runtime's loader defines (jdk.compiler...). */
    private volatile Set<String> applicationModulePackages;

    /**
     * Whether the class is in a JDK module that the application class loader, not the
     * platform one, defines (the compiler's API, jdk.jshell...): visible to the function
     * as on Lambda, where that loader is its parent. Looked up only after a miss, so that
     * no start pays for it.
     */
    private boolean inApplicationModule(String name) {
        int dot = name.lastIndexOf('.');
        if (dot < 0) {
            return false;
        }
        Set<String> packages = applicationModulePackages;
        if (packages == null) {
            packages = new HashSet<>();
            for (Module m : ModuleLayer.boot().modules()) {
                if (m.getClassLoader() == runtime) {
                    packages.addAll(m.getPackages());
                }
            }
            applicationModulePackages = packages;
        }
        return packages.contains(name.substring(0, dot));
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        // A binary name never holds a '/' or an empty part; the class path is no place to
        // resolve other paths (for a directory "a..b" would climb out of it).
        if (name.isEmpty() || name.indexOf('/') >= 0 || name.startsWith(".") || name.endsWith(".")
                || name.contains("..") || name.indexOf('[') >= 0) {
            throw new ClassNotFoundException(name);
        }
        String path = name.replace('.', '/').concat(".class");
        for (Root r : roots) {
            try {
                Class<?> c = r.jar ? fromJar(name, path, r) : fromDirectory(name, path, r);
                if (c != null) {
                    return c;
                }
            } catch (IOException e) {
                throw new ClassNotFoundException(name, e);
            }
        }
        throw new ClassNotFoundException(name);
    }

    private Class<?> fromJar(String name, String path, Root r) throws IOException {
        JarFile jar = r.jar();
        JarEntry e = jar != null ? jar.getJarEntry(path) : null;
        if (e == null) {
            return null;
        }
        byte[] b;
        try (InputStream in = jar.getInputStream(e)) {
            b = in.readAllBytes();
        }
        definePackageOf(name, jar.getManifest(), r.url);
        CodeSigner[] signers = e.getCodeSigners(); // known once the entry is read
        CodeSource source = signers == null ? r.unsigned : new CodeSource(r.url, signers);
        return define(name, b, source);
    }

    private Class<?> fromDirectory(String name, String path, Root r) throws IOException {
        File f = new File(r.path, path);
        if (!f.isFile()) {
            return null;
        }
        byte[] b;
        try (InputStream in = new FileInputStream(f)) {
            b = in.readAllBytes();
        }
        definePackageOf(name, null, r.url);
        return define(name, b, r.unsigned);
    }

    private Class<?> define(String name, byte[] b, CodeSource source) {
        byte[] rewritten = ConcatRewriter.rewrite(b);
        return defineClass(name, rewritten, 0, rewritten.length, source);
    }

    // ---------------------------------------------------------------- resources

    /**
     * Whether a resource name stays inside a class path entry: not absolute, no ".."
     * segment (a directory's file would otherwise be any file of the instance).
     */
    private static boolean inside(String name) {
        if (name.isEmpty() || name.charAt(0) == '/') {
            return false;
        }
        for (int i = 0; (i = name.indexOf("..", i)) >= 0; i += 2) {
            boolean starts = i == 0 || name.charAt(i - 1) == '/';
            boolean ends = i + 2 == name.length() || name.charAt(i + 2) == '/';
            if (starts && ends) {
                return false;
            }
        }
        return true;
    }

    /** name percent-encoded as a URL path (UTF-8), as the JDK's class path URLs are. */
    static String encodePath(String name) {
        int i = 0;
        while (i < name.length() && pathSafe(name.charAt(i))) {
            i++;
        }
        if (i == name.length()) {
            return name;
        }
        StringBuilder b = new StringBuilder(name.length() + 16);
        for (byte x : name.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if (c < 0x80 && pathSafe((char) c)) {
                b.append((char) c);
            } else {
                b.append('%').append(HEX[c >> 4]).append(HEX[c & 15]);
            }
        }
        return b.toString();
    }

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private static boolean pathSafe(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || "/-_.!~*'();:@&=+$,".indexOf(c) >= 0;
    }

    @Override
    public URL findResource(String name) {
        if (!inside(name)) {
            return null;
        }
        for (Root r : roots) {
            try {
                URL u = r.resource(name);
                if (u != null) {
                    return u;
                }
            } catch (MalformedURLException e) {
                return null;
            }
        }
        return null;
    }

    @Override
    public Enumeration<URL> findResources(String name) throws IOException {
        List<URL> found = new ArrayList<>();
        if (inside(name)) {
            for (Root r : roots) {
                URL u = r.resource(name);
                if (u != null) {
                    found.add(u);
                }
            }
        }
        return Collections.enumeration(found);
    }

    /**
     * Read straight from the entry's open jar or directory (the JDK first, as
     * getResource): through the URL, the jar would be opened once more.
     */
    @Override
    public InputStream getResourceAsStream(String name) {
        if (name == null) {
            throw new NullPointerException("name");
        }
        URL jdk = getParent().getResource(name);
        try {
            if (jdk != null) {
                return jdk.openStream();
            }
            if (!inside(name)) {
                return null;
            }
            for (Root r : roots) {
                InputStream in = r.open(name);
                if (in != null) {
                    return in;
                }
            }
        } catch (IOException e) {
            return null; // as URLClassLoader: an unreadable resource is no resource
        }
        return null;
    }

    /**
     * The permissions of the code from cs, computed only if something asks (a security
     * manager, which Lambda does not use): URLClassLoader computes them at the first class
     * it defines from each class path entry, through java.nio.file (~3 ms at the first).
     * The JDK's own class path loader defers them the same way.
     */
    @Override
    protected PermissionCollection getPermissions(CodeSource cs) {
        return new LazyPermissions(cs);
    }

    private final class LazyPermissions extends PermissionCollection {
        private static final long serialVersionUID = 1L;
        private final transient CodeSource cs;
        private PermissionCollection permissions;

        LazyPermissions(CodeSource cs) {
            this.cs = cs;
        }

        private synchronized PermissionCollection permissions() {
            if (permissions == null) {
                permissions = FunctionClassLoader.super.getPermissions(cs);
            }
            return permissions;
        }

        @Override
        public void add(Permission p) {
            if (isReadOnly()) {
                throw new SecurityException("attempt to add a Permission to a readonly PermissionCollection");
            }
            permissions().add(p);
        }

        @Override
        public boolean implies(Permission p) {
            return permissions().implies(p);
        }

        @Override
        public Enumeration<Permission> elements() {
            return permissions().elements();
        }
    }

    /** Defines the class's package once, with the jar's manifest attributes as URLClassLoader does. */
    private void definePackageOf(String name, Manifest manifest, URL url) {
        int dot = name.lastIndexOf('.');
        if (dot < 0) {
            return;
        }
        String pkg = name.substring(0, dot);
        if (getDefinedPackage(pkg) != null) {
            return;
        }
        try {
            if (manifest != null) {
                definePackage(pkg, manifest, url);
            } else {
                definePackage(pkg, null, null, null, null, null, null, null);
            }
        } catch (IllegalArgumentException definedMeanwhile) {
            // another thread defined it first: the same package
        }
    }
}
