# The handler for the shell bootstrap (_HANDLER=function.handler): the event is $1, the
# response is whatever the function prints on stdout; stderr goes to the function's log.
handler () {
  EVENT_DATA=$1
  echo "handler: got $EVENT_DATA" 1>&2
  printf '%s' "$EVENT_DATA"
}
