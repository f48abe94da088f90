"""One assignLicense call per user through Microsoft's Python Graph SDK (msgraph-sdk),
one after another, as a script written with the SDK's samples would: the comparison
for `cargo bench --bench sdk_loop`. Reads a JSON job on stdin: the emulator's v1.0 base
URL, a bearer token, and the calls ({"user": id, "add": [{"skuId", "disabledPlans"}],
"remove": [skuId]}). Prints the seconds the calls took.

The SDK's request adapter is pointed at the emulator (plain http on 127.0.0.1) and given
a static token, which is all a client-credentials token provider hands it.
"""

import asyncio
import json
import sys
import time
import uuid

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)


class StaticToken(AccessTokenProvider):
    def __init__(self, token):
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


async def main():
    job = json.load(sys.stdin)
    auth = BaseBearerTokenAuthenticationProvider(StaticToken(job["token"]))
    adapter = GraphRequestAdapter(auth, client=httpx.AsyncClient(timeout=120))
    adapter.base_url = job["base"].rstrip("/")
    client = GraphServiceClient(request_adapter=adapter)
    started = time.monotonic()
    for call in job["calls"]:
        body = AssignLicensePostRequestBody(
            add_licenses=[
                AssignedLicense(
                    sku_id=uuid.UUID(a["skuId"]),
                    disabled_plans=[uuid.UUID(p) for p in a["disabledPlans"]],
                )
                for a in call["add"]
            ],
            remove_licenses=[uuid.UUID(r) for r in call["remove"]],
        )
        await client.users.by_user_id(call["user"]).assign_license.post(body)
    print(f"{time.monotonic() - started:.3f}")


asyncio.run(main())
