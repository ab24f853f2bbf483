package com.amazonaws.services.lambda.runtime;

import java.util.Map;

/** The client context the caller passed (Lambda-Runtime-Client-Context), if any. */
public interface ClientContext {
    Client getClient();

    Map<String, String> getCustom();

    Map<String, String> getEnvironment();
}
