"""The pipeline's shared code (the PipelineLayer). Its first import, a handler's, pauses the garbage collector until
the handler's first invocation, in a Lambda runtime only (coldstart.py)."""

from .coldstart import pause_collector

pause_collector()
