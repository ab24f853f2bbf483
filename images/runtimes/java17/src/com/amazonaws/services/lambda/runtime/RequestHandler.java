package com.amazonaws.services.lambda.runtime;

/**
 * A handler whose input is the event converted to {@code I} and whose output is
 * serialised to JSON, as AWS Lambda's interface of the same name.
 */
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
