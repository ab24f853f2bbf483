// Example nodejs20.x function (an ES module): echoes its event and the Lambda context.
// An event with an "error" property makes it throw an ExampleError with that message.
class ExampleError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ExampleError';
  }
}

const initPid = process.pid;
let invocations = 0;
console.log('init: nodejs example loaded');

export const handler = async (event, context) => {
  invocations += 1;
  console.log(`handling request ${context.awsRequestId}`);
  if (event && typeof event === 'object' && 'error' in event) throw new ExampleError(String(event.error));
  return {
    event,
    context: {
      functionName: context.functionName,
      functionVersion: context.functionVersion,
      invokedFunctionArn: context.invokedFunctionArn,
      memoryLimitInMB: context.memoryLimitInMB,
      awsRequestId: context.awsRequestId,
      logGroupName: context.logGroupName,
      logStreamName: context.logStreamName,
      remainingTimeInMillis: context.getRemainingTimeInMillis(),
    },
    initPid,
    invocations,
  };
};
