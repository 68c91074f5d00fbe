"""Test kit: a local SiteSage server implementing the contract of the package README.

In any package's tests::

    from meshinsights_connector_sitesage.testing import SiteSageTestServer

    with SiteSageTestServer({("L1", "c1"): frame}, token="t0k3n") as sitesage:
        config = {"base_url": sitesage.url, "token": "t0k3n"}
        ...
        assert sitesage.requests[-1].query["page_size"] == "500"
"""

from __future__ import annotations

from meshinsights_connector_sitesage.testing.faults import Fault
from meshinsights_connector_sitesage.testing.server import RecordedRequest, SiteSageTestServer

__all__ = ["Fault", "RecordedRequest", "SiteSageTestServer"]
