package example;

/** What the examples throw for an event with an "error" property. */
public class ExampleError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ExampleError(String message) {
        super(message);
    }
}
