package com.amazonaws.services.lambda.runtime;

/**
 * The context object of one invocation, with the methods of AWS Lambda's
 * {@code com.amazonaws.services.lambda.runtime.Context} (aws-lambda-java-core), so that
 * handlers compiled against either run unchanged on lamina.
 */
public interface Context {
    String getAwsRequestId();

    String getLogGroupName();

    String getLogStreamName();

    String getFunctionName();

    String getFunctionVersion();

    String getInvokedFunctionArn();

    CognitoIdentity getIdentity();

    ClientContext getClientContext();

    int getRemainingTimeInMillis();

    int getMemoryLimitInMB();

    LambdaLogger getLogger();
}
