"""dbt-tests-adapter suites that apply unchanged to a read-only server."""

from dbt.tests.adapter.basic.test_empty import BaseEmpty
from dbt.tests.adapter.basic.test_singular_tests import BaseSingularTests
from dbt.tests.adapter.basic.test_validate_connection import BaseValidateConnection


class TestValidateConnectionAmp(BaseValidateConnection):
    pass


class TestEmptyAmp(BaseEmpty):
    pass


class TestSingularTestsAmp(BaseSingularTests):
    pass
