# lamina python3.11 runtime entry point: `python3 /var/runtime/bootstrap.py`.
# Kept tiny on purpose: the runtime lives in _lamina_runtime.py, whose byte code can then be
# cached (a script's never is). /var/runtime is read-only inside an instance, so precompile
# at build/install time:
#   python3 -m compileall -q --invalidation-mode checked-hash <this directory>
# Without that it still works, only ~8 ms slower to start.
import sys

_here = __file__.rpartition("/")[0] or "."
if _here not in sys.path:  # e.g. under `python3 -I`
    sys.path.insert(0, _here)

from _lamina_runtime import main  # noqa: E402

main()
