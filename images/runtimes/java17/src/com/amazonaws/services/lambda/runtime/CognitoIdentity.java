package com.amazonaws.services.lambda.runtime;

/** The Amazon Cognito identity of the caller, when the invocation carried one. */
public interface CognitoIdentity {
    String getIdentityId();

    String getIdentityPoolId();
}
