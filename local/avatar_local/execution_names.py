"""StartExecution without a name gets a generated UUID name on AWS; moto's interpreter backend uses "None".

Patches moto 5.2.x (checked with 5.2.5), which lacks this: an unnamed execution is called None.
``tests/integration/test_moto_upstream.py`` (test_execution_names_an_unnamed_execution_is_called_none) fails once an
upgrade brings it; then this module goes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from .patching import replace


def install_generated_execution_names() -> Callable[[], None]:
    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        backend: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        return original(backend, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    return replace((StepFunctionsParserBackend, "start_execution", start_execution))
