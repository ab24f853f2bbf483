// Example nodejs20.x function (CommonJS) in the callback style.
//   {"fail": true}  -> callback(new Error(...))   FunctionError "Handled"
//   {"throw": true} -> throws                      FunctionError "Unhandled"
//   anything else   -> callback(null, {...})       after a timer, to show async callbacks
'use strict';

let invocations = 0;

exports.handler = function (event, context, callback) {
  invocations += 1;
  if (event && event.throw) {
    throw new TypeError('thrown from the handler');
  }
  if (event && event.fail) {
    callback(new RangeError(`refused: ${event.reason || 'no reason'}`));
    return;
  }
  setTimeout(() => {
    callback(null, { echo: event, requestId: context.awsRequestId, invocations });
  }, 1);
};
