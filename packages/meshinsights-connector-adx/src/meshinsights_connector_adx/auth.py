"""Build the KustoConnectionStringBuilder for the configured auth mode.

The builder holds secrets and its ``repr`` shows them: it never leaves
this module and the pool, and is never logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshinsights_connector_adx.settings import ADXSettings

if TYPE_CHECKING:
    from azure.kusto.data import KustoConnectionStringBuilder


def build_kcsb(settings: ADXSettings) -> KustoConnectionStringBuilder:
    """One builder per auth mode: app key, managed identity, Azure CLI, TokenCredential, none."""
    from azure.kusto.data import KustoConnectionStringBuilder as Kcsb

    cluster = settings.cluster
    if settings.auth == "none":
        return Kcsb.with_no_authentication(cluster)
    if settings.auth == "app_key":
        return Kcsb.with_aad_application_key_authentication(
            cluster, str(settings.client_id), str(settings.client_secret), str(settings.tenant_id)
        )
    if settings.auth == "managed_identity":
        if settings.client_id:
            return Kcsb.with_aad_managed_service_identity_authentication(
                cluster, client_id=settings.client_id
            )
        return Kcsb.with_aad_managed_service_identity_authentication(cluster)
    if settings.auth == "az_cli":
        return Kcsb.with_az_cli_authentication(cluster)
    credential = settings.credential
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(
            **({"managed_identity_client_id": settings.client_id} if settings.client_id else {}),
            **({"additionally_allowed_tenants": [settings.tenant_id]} if settings.tenant_id else {}),
        )
    return Kcsb.with_azure_token_credential(cluster, credential=credential)
