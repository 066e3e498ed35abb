"""Every operation of every published OpenAPI document keeps its promises (issue 29).

schemathesis (its pytest integration, against the WSGI app of tests/api/conftest.py) runs all four phases:
the document's examples, the coverage cases (boundaries, every declared status, unexpected methods), random
fuzzing (valid and invalid requests) and stateful sequences that follow the document's links (a created
ticket read and answered with its reference and token). Any check failing fails the suite: a server error,
a status, header, content type or body the document does not declare, a valid request rejected or an
invalid one accepted. Documents are listed in tests/api/documents.py.
"""

from __future__ import annotations

import hypothesis
import schemathesis

from tests.api.conftest import STATEFUL_STEPS, Target

schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_operation_keeps_the_document(case) -> None:
    case.call_and_validate()


def test_linked_operations_keep_the_document(api_target: Target) -> None:
    machine = api_target.schema.as_state_machine()
    hypothesis.seed(api_target.run.seed)(machine)
    machine.run(
        settings=hypothesis.settings(
            max_examples=api_target.max_examples,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
